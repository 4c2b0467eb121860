"""De-identification: the PS3.15 Annex E Basic Application Level
Confidentiality Profile, with its retain options.

Actions follow Table E.1-1: ``X`` remove, ``Z`` empty (zero length), ``D``
replace with a dummy value of the same VR, ``U`` replace a UID with a new
one, ``K`` keep. Options move attributes to ``K``: Retain Longitudinal
Temporal Information with Full Dates, Retain Device Identity, Retain UIDs,
Retain Patient Characteristics, Retain Institution Identity. Private
attributes are removed unless kept on purpose.

UIDs are remapped through one :class:`UidMap` for a whole run, so that the
files of a study keep their Study, Series and Frame of Reference UIDs in
common and references between them (Referenced SOP Instance UID) still
point at the right, renamed, object. Given a ``salt``, the mapping is the
same in every run (useful to de-identify a study in several passes).

A dry run returns every change without writing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from pydicom import dcmread
from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, generate_uid

from dcmtui.services._threading import iterate_in_thread
from dcmtui.services.errors import DcmtuiError, FileReadError

# Option names (as on the command line).
KEEP_DATES = "dates"
KEEP_DEVICE = "device"
KEEP_UIDS = "uids"
KEEP_PATIENT = "patient"
KEEP_INSTITUTION = "institution"
KEEP_PRIVATE = "private"
OPTIONS = (KEEP_DATES, KEEP_DEVICE, KEEP_UIDS, KEEP_PATIENT, KEEP_INSTITUTION)

_OPTION_CODES = {
    KEEP_DATES: (
        "113106",
        "Retain Longitudinal Temporal Information Full Dates Option",
    ),
    KEEP_DEVICE: ("113109", "Retain Device Identity Option"),
    KEEP_UIDS: ("113110", "Retain UIDs Option"),
    KEEP_PATIENT: ("113108", "Retain Patient Characteristics Option"),
    KEEP_INSTITUTION: ("113112", "Retain Institution Identity Option"),
}

# Table E.1-1 (basic profile column), by keyword. The option that keeps an
# attribute (K in its column), if any, comes second; an attribute that
# several options keep names them all, and any one of them keeps it. Checked
# against the 2026c edition of PS3.15 (retain columns: 2025b).
_D, _Z, _X, _U = "D", "Z", "X", "U"
_Keep: TypeAlias = str | tuple[str, ...] | None
_TABLE: dict[str, tuple[str, _Keep]] = {
    # Patient identity
    "PatientName": (_Z, None),
    "PatientID": (_Z, None),
    "IssuerOfPatientID": (_X, None),
    "IssuerOfPatientIDQualifiersSequence": (_X, None),
    "PatientBirthDate": (_Z, None),
    "PatientBirthTime": (_X, None),
    "PatientBirthName": (_X, None),
    "PatientMotherBirthName": (_X, None),
    "OtherPatientIDs": (_X, None),
    "OtherPatientIDsSequence": (_X, None),
    "OtherPatientNames": (_X, None),
    "PatientAddress": (_X, None),
    "PatientTelephoneNumbers": (_X, None),
    "PatientTelecomInformation": (_X, None),
    "PatientInsurancePlanCodeSequence": (_X, None),
    "PatientPrimaryLanguageCodeSequence": (_X, None),
    "PatientReligiousPreference": (_X, None),
    "PatientComments": (_X, None),
    "PatientState": (_X, None),
    "MilitaryRank": (_X, None),
    "BranchOfService": (_X, None),
    "MedicalRecordLocator": (_X, None),
    "ReferencedPatientSequence": (_X, KEEP_UIDS),
    "ReferencedPatientPhotoSequence": (_X, None),
    "ResponsiblePerson": (_X, None),
    "ResponsiblePersonRole": (_X, None),
    "ResponsibleOrganization": (_X, None),
    "CountryOfResidence": (_X, None),
    "RegionOfResidence": (_X, None),
    "CurrentPatientLocation": (_X, None),
    "PatientInstitutionResidence": (_X, None),
    "AdmissionID": (_X, None),
    "IssuerOfAdmissionIDSequence": (_X, None),
    "AdmittingDiagnosesDescription": (_X, None),
    "AdmittingDiagnosesCodeSequence": (_X, None),
    "AdditionalPatientHistory": (_X, None),
    "MedicalAlerts": (_X, None),
    "Allergies": (_X, None),
    "Occupation": (_X, None),
    "SpecialNeeds": (_X, None),
    "LastMenstrualDate": (_X, KEEP_DATES),
    # Patient characteristics
    "PatientSex": (_Z, KEEP_PATIENT),
    "PatientAge": (_X, KEEP_PATIENT),
    "PatientSize": (_X, KEEP_PATIENT),
    "PatientWeight": (_X, KEEP_PATIENT),
    "EthnicGroup": (_X, KEEP_PATIENT),
    "SmokingStatus": (_X, KEEP_PATIENT),
    "PregnancyStatus": (_X, KEEP_PATIENT),
    "PatientSexNeutered": (_X, KEEP_PATIENT),
    "PatientSpeciesDescription": (_X, KEEP_PATIENT),
    # People
    "ReferringPhysicianName": (_Z, None),
    "ReferringPhysicianAddress": (_X, None),
    "ReferringPhysicianTelephoneNumbers": (_X, None),
    "ReferringPhysicianIdentificationSequence": (_X, None),
    "ConsultingPhysicianName": (_X, None),
    "PhysiciansOfRecord": (_X, None),
    "PhysiciansOfRecordIdentificationSequence": (_X, None),
    "PerformingPhysicianName": (_X, None),
    "PerformingPhysicianIdentificationSequence": (_X, None),
    "NameOfPhysiciansReadingStudy": (_X, None),
    "PhysiciansReadingStudyIdentificationSequence": (_X, None),
    "OperatorsName": (_X, None),
    "OperatorIdentificationSequence": (_X, None),
    "RequestingPhysician": (_X, None),
    "ScheduledPerformingPhysicianName": (_X, None),
    "ContentCreatorName": (_Z, None),
    "VerifyingObserverName": (_D, None),
    "PersonName": (_D, None),
    "ReviewerName": (_X, None),
    "EvaluatorName": (_X, None),
    "RequestingService": (_X, None),
    # Study, visit, request
    "AccessionNumber": (_Z, None),
    "IssuerOfAccessionNumberSequence": (_X, None),
    "StudyID": (_Z, None),
    "StudyDescription": (_X, None),
    "SeriesDescription": (_X, None),
    "ProtocolName": (_X, None),
    "PerformedProcedureStepDescription": (_X, None),
    "PerformedProcedureStepID": (_X, None),
    "ScheduledProcedureStepDescription": (_X, None),
    "ScheduledProcedureStepID": (_X, None),
    "RequestedProcedureDescription": (_X, None),
    "RequestedProcedureID": (_X, None),
    "ReasonForTheRequestedProcedure": (_X, None),
    "RequestAttributesSequence": (_X, None),
    "ImageComments": (_X, None),
    "StudyComments": (_X, None),
    "InterpretationText": (_X, None),
    "DerivationDescription": (_X, None),
    "AcquisitionComments": (_X, None),
    "TextString": (_X, None),
    "TextComments": (_X, None),
    "FillerOrderNumberImagingServiceRequest": (_X, None),
    "PlacerOrderNumberImagingServiceRequest": (_X, None),
    "OrderEntererLocation": (_X, None),
    "OrderEnteredBy": (_X, None),
    "OrderCallbackPhoneNumber": (_X, None),
    # Institution
    "InstitutionName": (_X, KEEP_INSTITUTION),
    "InstitutionAddress": (_X, KEEP_INSTITUTION),
    "InstitutionalDepartmentName": (_X, KEEP_INSTITUTION),
    "InstitutionCodeSequence": (_X, KEEP_INSTITUTION),
    # Device
    "StationName": (_X, KEEP_DEVICE),
    "DeviceSerialNumber": (_X, KEEP_DEVICE),
    "DeviceUID": (_U, KEEP_DEVICE),
    "GantryID": (_X, KEEP_DEVICE),
    "DetectorID": (_X, KEEP_DEVICE),
    "PlateID": (_X, KEEP_DEVICE),
    "CassetteID": (_X, KEEP_DEVICE),
    "GeneratorID": (_X, KEEP_DEVICE),
    "SourceSerialNumber": (_X, KEEP_DEVICE),
    # Dates and times
    "StudyDate": (_Z, KEEP_DATES),
    "StudyTime": (_Z, KEEP_DATES),
    "SeriesDate": (_X, KEEP_DATES),
    "SeriesTime": (_X, KEEP_DATES),
    "AcquisitionDate": (_X, KEEP_DATES),
    "AcquisitionTime": (_X, KEEP_DATES),
    "AcquisitionDateTime": (_X, KEEP_DATES),
    "ContentDate": (_Z, KEEP_DATES),
    "ContentTime": (_Z, KEEP_DATES),
    "InstanceCreationDate": (_X, KEEP_DATES),
    "InstanceCreationTime": (_X, KEEP_DATES),
    "OverlayDate": (_X, KEEP_DATES),
    "OverlayTime": (_X, KEEP_DATES),
    "CurveDate": (_X, KEEP_DATES),
    "CurveTime": (_X, KEEP_DATES),
    "PerformedProcedureStepStartDate": (_X, KEEP_DATES),
    "PerformedProcedureStepStartTime": (_X, KEEP_DATES),
    "PerformedProcedureStepEndDate": (_X, KEEP_DATES),
    "PerformedProcedureStepEndTime": (_X, KEEP_DATES),
    "ScheduledProcedureStepStartDate": (_X, KEEP_DATES),
    "ScheduledProcedureStepStartTime": (_X, KEEP_DATES),
    "ScheduledProcedureStepEndDate": (_X, KEEP_DATES),
    "ScheduledProcedureStepEndTime": (_X, KEEP_DATES),
    "AdmittingDate": (_X, KEEP_DATES),
    "AdmittingTime": (_X, KEEP_DATES),
    "DateOfLastCalibration": (_X, (KEEP_DATES, KEEP_DEVICE)),
    "TimeOfLastCalibration": (_X, (KEEP_DATES, KEEP_DEVICE)),
    "DateOfSecondaryCapture": (_X, KEEP_DATES),
    "TimeOfSecondaryCapture": (_X, KEEP_DATES),
    "RadiopharmaceuticalStartTime": (_X, KEEP_DATES),
    "RadiopharmaceuticalStopTime": (_X, KEEP_DATES),
    "RadiopharmaceuticalStartDateTime": (_X, KEEP_DATES),
    "ObservationDateTime": (_D, KEEP_DATES),
    "VerificationDateTime": (_D, KEEP_DATES),
    "ReferencedDateTime": (_D, KEEP_DATES),
    "FrameReferenceDateTime": (_D, KEEP_DATES),
    "FrameAcquisitionDateTime": (_D, KEEP_DATES),
    "StartAcquisitionDateTime": (_D, KEEP_DATES),
    "EndAcquisitionDateTime": (_D, KEEP_DATES),
    "InterpretationRecordedDate": (_X, KEEP_DATES),
    "InterpretationRecordedTime": (_X, KEEP_DATES),
    "Date": (_D, KEEP_DATES),
    "Time": (_D, KEEP_DATES),
    "DateTime": (_D, KEEP_DATES),
    "PerformedProcedureStepStartDateTime": (_X, KEEP_DATES),
    "PerformedProcedureStepEndDateTime": (_X, KEEP_DATES),
    "StudyArrivalDate": (_X, KEEP_DATES),
    "StudyArrivalTime": (_X, KEEP_DATES),
    "StudyReadDate": (_X, KEEP_DATES),
    "StudyReadTime": (_X, KEEP_DATES),
    "StudyVerifiedDate": (_X, KEEP_DATES),
    "StudyVerifiedTime": (_X, KEEP_DATES),
    "StudyCompletionDate": (_X, KEEP_DATES),
    "StudyCompletionTime": (_X, KEEP_DATES),
    "ScheduledStudyStartDate": (_X, KEEP_DATES),
    "ScheduledStudyStartTime": (_X, KEEP_DATES),
    "ScheduledStudyStopDate": (_X, KEEP_DATES),
    "ScheduledStudyStopTime": (_X, KEEP_DATES),
    "ScheduledAdmissionDate": (_X, KEEP_DATES),
    "ScheduledAdmissionTime": (_X, KEEP_DATES),
    "ScheduledDischargeDate": (_X, KEEP_DATES),
    "ScheduledDischargeTime": (_X, KEEP_DATES),
    "DischargeDate": (_X, KEEP_DATES),
    "DischargeTime": (_X, KEEP_DATES),
    "ContrastBolusStartTime": (_X, KEEP_DATES),
    "ContrastBolusStopTime": (_X, KEEP_DATES),
    "ModifiedImageDate": (_X, KEEP_DATES),
    "ModifiedImageTime": (_X, KEEP_DATES),
    "InstanceCoercionDateTime": (_X, KEEP_DATES),
    "TimezoneOffsetFromUTC": (_X, KEEP_DATES),
    "RTPlanDate": (_X, KEEP_DATES),
    "RTPlanTime": (_X, KEEP_DATES),
    "StructureSetDate": (_Z, KEEP_DATES),
    "StructureSetTime": (_Z, KEEP_DATES),
    # More of Table E.1-1: visits, people, requests and results
    "ReferencedPatientAliasSequence": (_X, None),
    "PatientPrimaryLanguageModifierCodeSequence": (_X, None),
    "PatientTransportArrangements": (_X, None),
    "PreMedication": (_X, None),
    "InsurancePlanIdentification": (_X, None),
    "VisitComments": (_X, None),
    "ServiceEpisodeID": (_X, None),
    "ServiceEpisodeDescription": (_X, None),
    "IssuerOfServiceEpisodeIDSequence": (_X, None),
    "IssuerOfAdmissionID": (_X, None),
    "ReasonForVisit": (_X, None),
    "ReasonForVisitCodeSequence": (_X, None),
    "DischargeDiagnosisDescription": (_X, None),
    "ActualHumanPerformersSequence": (_X, None),
    "ScheduledHumanPerformersSequence": (_X, None),
    "ScheduledPerformingPhysicianIdentificationSequence": (_X, None),
    "ConsultingPhysicianIdentificationSequence": (_X, None),
    "ContentCreatorIdentificationCodeSequence": (_X, None),
    "AuthorObserverSequence": (_X, None),
    "ParticipantSequence": (_X, None),
    "CustodialOrganizationSequence": (_X, None),
    "HumanPerformerName": (_X, None),
    "HumanPerformerOrganization": (_X, None),
    "PersonAddress": (_X, None),
    "PersonTelephoneNumbers": (_X, None),
    "PersonTelecomInformation": (_X, None),
    "IntendedRecipientsOfResultsIdentificationSequence": (_X, None),
    "NamesOfIntendedRecipientsOfResults": (_X, None),
    "PhysicianApprovingInterpretation": (_X, None),
    "InterpretationAuthor": (_X, None),
    "InterpretationTranscriber": (_X, None),
    "InterpretationRecorder": (_X, None),
    "InterpretationApproverSequence": (_X, None),
    "VerifyingObserverIdentificationCodeSequence": (_Z, None),
    "CameraOwnerName": (_X, None),
    "AcquisitionContextSequence": (_X, None),
    "ReasonForStudy": (_X, None),
    "ReasonForRequestedProcedureCodeSequence": (_X, None),
    "ReasonForTheImagingServiceRequest": (_X, None),
    "RequestedContrastAgent": (_X, None),
    "RequestedProcedureComments": (_X, None),
    "RequestedProcedureLocation": (_X, None),
    "ImagingServiceRequestComments": (_X, None),
    "ImagePresentationComments": (_X, None),
    "IdentifyingComments": (_X, None),
    "FrameComments": (_X, None),
    "ReferencedStudySequence": (_X, KEEP_UIDS),
    "ReferencedPerformedProcedureStepSequence": (_X, KEEP_UIDS),
    "PerformedLocation": (_X, None),
    "StudyIDIssuer": (_X, None),
    "ResultsComments": (_X, None),
    "ResultsID": (_X, None),
    "ResultsIDIssuer": (_X, None),
    "InterpretationID": (_X, None),
    "InterpretationDiagnosisDescription": (_X, None),
    "Impressions": (_X, None),
    "TopicAuthor": (_X, None),
    "TopicKeywords": (_X, None),
    "TopicSubject": (_X, None),
    "TopicTitle": (_X, None),
    "SpecimenAccessionNumber": (_X, None),
    "SlideIdentifier": (_X, None),
    "BarcodeValue": (_X, None),
    "LabelText": (_X, None),
    "CommentsOnThePerformedProcedureStep": (_X, None),
    "CommentsOnRadiationDose": (_X, None),
    "AcquisitionProtocolDescription": (_X, None),
    "AcquisitionDeviceProcessingDescription": (_X, None),
    "RequestedSeriesDescription": (_X, None),
    "ModifiedImageDescription": (_X, None),
    "PatientSetupPhotoDescription": (_X, None),
    "ContrastBolusAgent": (_Z, None),
    # Clinical trial
    "ClinicalTrialSponsorName": (_D, None),
    "ClinicalTrialProtocolID": (_D, None),
    "ClinicalTrialProtocolName": (_Z, None),
    "ClinicalTrialSiteID": (_Z, KEEP_INSTITUTION),
    "ClinicalTrialSiteName": (_Z, KEEP_INSTITUTION),
    "ClinicalTrialCoordinatingCenterName": (_Z, KEEP_INSTITUTION),
    "ClinicalTrialSubjectID": (_D, None),
    "ClinicalTrialSubjectReadingID": (_D, None),
    "ClinicalTrialTimePointID": (_Z, None),
    "ClinicalTrialTimePointDescription": (_X, None),
    "ClinicalTrialSeriesID": (_X, None),
    "ClinicalTrialSeriesDescription": (_X, None),
    # Radiotherapy plans and structure sets
    "RTPlanName": (_X, None),
    "RTPlanDescription": (_X, None),
    "RTPlanLabel": (_D, None),
    "StructureSetName": (_X, None),
    "StructureSetDescription": (_X, None),
    "StructureSetLabel": (_D, None),
    "ROIName": (_Z, None),
    "ROIDescription": (_X, None),
    "ROIGenerationDescription": (_X, None),
    "ROIInterpreter": (_Z, None),
    "ROIObservationLabel": (_X, None),
    "ROIObservationDescription": (_X, None),
    "TreatmentSites": (_X, None),
    # Signatures, provenance, thumbnails
    "DataSetTrailingPadding": (_X, None),
    "DigitalSignaturesSequence": (_X, None),
    "MAC": (_X, None),
    "OriginalAttributesSequence": (_X, None),
    "ModifiedAttributesSequence": (_X, None),
    "NonconformingModifiedAttributesSequence": (_X, None),
    "IconImageSequence": (_X, None),
    "MakerNote": (_X, None),
    # Devices, stations and network addresses (AE titles are cleaned, not
    # kept, by the device option: removed here either way)
    "InstitutionalDepartmentTypeCodeSequence": (_X, KEEP_INSTITUTION),
    "DeviceDescription": (_X, KEEP_DEVICE),
    "LongDeviceDescription": (_X, None),
    "DeviceSettingDescription": (_X, None),
    "PerformedStationName": (_X, KEEP_DEVICE),
    "PerformedStationNameCodeSequence": (_X, KEEP_DEVICE),
    "PerformedStationGeographicLocationCodeSequence": (_X, KEEP_DEVICE),
    "ScheduledStationName": (_X, KEEP_DEVICE),
    "ScheduledStationNameCodeSequence": (_X, KEEP_DEVICE),
    "ScheduledStationGeographicLocationCodeSequence": (_X, KEEP_DEVICE),
    "ScheduledProcedureStepLocation": (_X, KEEP_DEVICE),
    "ScheduledStudyLocation": (_X, KEEP_DEVICE),
    "UniqueDeviceIdentifier": (_X, KEEP_DEVICE),
    "UDISequence": (_X, KEEP_DEVICE),
    "DateOfLastDetectorCalibration": (_X, (KEEP_DATES, KEEP_DEVICE)),
    "TimeOfLastDetectorCalibration": (_X, (KEEP_DATES, KEEP_DEVICE)),
    "ModifyingDeviceID": (_X, KEEP_DEVICE),
    "XRayDetectorID": (_D, KEEP_DEVICE),
    "XRaySourceID": (_D, KEEP_DEVICE),
    "XRayDetectorLabel": (_X, KEEP_DEVICE),
    "TransducerIdentificationSequence": (_X, KEEP_DEVICE),
    "LensSerialNumber": (_X, KEEP_DEVICE),
    "TreatmentMachineName": (_Z, KEEP_DEVICE),
    "NetworkID": (_X, None),
    "StationAETitle": (_X, None),
    "RetrieveAETitle": (_X, None),
    "PerformedStationAETitle": (_X, None),
    "ScheduledStationAETitle": (_X, None),
    "ScheduledStudyLocationAETitle": (_X, None),
    "DestinationAE": (_D, None),
    # The rest of Table E.1-1 (DICOM 2026c), in tag order: GPS, lenses,
    # calibration, specimens, selectors, RT plans and records, trial issuers,
    # SR and waveform annotations. A compound action is written as its first
    # choice (X/Z, X/D, X/Z/D: X; Z/D: Z), as above; the comment keeps it.
    "ContextGroupVersion": (_D, KEEP_DATES),
    "ContextGroupLocalVersion": (_D, KEEP_DATES),
    "PyramidDescription": (_X, None),
    "EthnicGroupCodeSequence": (_X, KEEP_PATIENT),
    "IssuerOfClinicalTrialProtocolID": (_X, None),
    "OtherClinicalTrialProtocolIDsSequence": (_X, None),
    "IssuerOfClinicalTrialSiteID": (_X, None),
    "IssuerOfClinicalTrialSubjectID": (_X, None),
    "IssuerOfClinicalTrialSubjectReadingID": (_X, None),
    "IssuerOfClinicalTrialTimePointID": (_X, None),
    "IssuerOfClinicalTrialSeriesID": (_X, None),
    "ClinicalTrialProtocolEthicsCommitteeName": (_D, KEEP_INSTITUTION),
    "ClinicalTrialProtocolEthicsCommitteeApprovalNumber": (_X, None),
    "EthicsCommitteeApprovalEffectivenessStartDate": (_X, KEEP_DATES),
    "EthicsCommitteeApprovalEffectivenessEndDate": (_X, KEEP_DATES),
    "CalibrationTime": (_X, (KEEP_DATES, KEEP_DEVICE)),
    "CalibrationDate": (_X, (KEEP_DATES, KEEP_DEVICE)),
    "LensSpecification": (_X, KEEP_DEVICE),
    "LensMake": (_X, KEEP_DEVICE),
    "LensModel": (_X, KEEP_DEVICE),
    "GPSVersionID": (_X, None),
    "GPSLatitudeRef": (_X, None),
    "GPSLatitude": (_X, None),
    "GPSLongitudeRef": (_X, None),
    "GPSLongitude": (_X, None),
    "GPSAltitudeRef": (_X, None),
    "GPSAltitude": (_X, None),
    "GPSTimeStamp": (_X, None),
    "GPSSatellites": (_X, None),
    "GPSStatus": (_X, None),
    "GPSMeasureMode": (_X, None),
    "GPSDOP": (_X, None),
    "GPSSpeedRef": (_X, None),
    "GPSSpeed": (_X, None),
    "GPSTrackRef": (_X, None),
    "GPSTrack": (_X, None),
    "GPSImgDirectionRef": (_X, None),
    "GPSImgDirection": (_X, None),
    "GPSMapDatum": (_X, None),
    "GPSDestLatitudeRef": (_X, None),
    "GPSDestLatitude": (_X, None),
    "GPSDestLongitudeRef": (_X, None),
    "GPSDestLongitude": (_X, None),
    "GPSDestBearingRef": (_X, None),
    "GPSDestBearing": (_X, None),
    "GPSDestDistanceRef": (_X, None),
    "GPSDestDistance": (_X, None),
    "GPSProcessingMethod": (_X, None),
    "GPSAreaInformation": (_X, None),
    "GPSDateStamp": (_X, KEEP_DATES),
    "GPSDifferential": (_X, None),
    "InterventionDrugStopTime": (_X, KEEP_DATES),
    "InterventionDrugStartTime": (_X, KEEP_DATES),
    "ManufacturerDeviceClassUID": (_U, KEEP_DEVICE),
    "SecondaryCaptureDeviceID": (_X, None),
    "HardcopyCreationDeviceID": (_X, None),
    "RadiopharmaceuticalStopDateTime": (_X, KEEP_DATES),
    "AcquisitionFieldOfViewLabel": (_D, None),
    "DateTimeOfLastCalibration": (_X, (KEEP_DATES, KEEP_DEVICE)),
    "CalibrationDateTime": (_Z, (KEEP_DATES, KEEP_DEVICE)),
    "DateOfManufacture": (_X, (KEEP_DATES, KEEP_DEVICE)),
    "DateOfInstallation": (_X, (KEEP_DATES, KEEP_DEVICE)),
    "RespiratoryMotionCompensationTechniqueDescription": (_X, None),
    "SourceStartDateTime": (_D, KEEP_DATES),
    "SourceEndDateTime": (_D, KEEP_DATES),
    "MultienergyAcquisitionDescription": (_X, None),
    "DecompositionDescription": (_X, None),
    "FunctionalSyncPulse": (_D, KEEP_DATES),
    "DecayCorrectionDateTime": (_D, KEEP_DATES),
    "ExclusionStartDateTime": (_D, KEEP_DATES),
    "InstructionPerformedDateTime": (_Z, KEEP_DATES),  # Z/D
    "ContributionDateTime": (_X, KEEP_DATES),
    "ContributionDescription": (_X, None),
    "PyramidLabel": (_X, None),
    "FlowIdentifierSequence": (_D, None),
    "FlowIdentifier": (_D, None),
    "SourceIdentifier": (_D, None),
    "FrameOriginTimestamp": (_D, KEEP_DATES),
    "ScheduledPatientInstitutionResidence": (_X, None),
    "IssuerOfServiceEpisodeID": (_X, None),
    "MultiplexGroupLabel": (_X, None),
    "ChannelLabel": (_X, None),
    "ChannelDerivationDescription": (_X, None),
    "ImpedanceMeasurementDateTime": (_D, KEEP_DATES),
    "WaveformFilterDescription": (_X, None),
    "FilterLookupTableDescription": (_X, None),
    "ContainerIdentifier": (_D, None),
    "IssuerOfTheContainerIdentifierSequence": (_Z, None),
    "ContainerDescription": (_X, None),
    "SpecimenIdentifier": (_D, None),
    "AcquisitionContextDescription": (_X, None),
    "IssuerOfTheSpecimenIdentifierSequence": (_Z, None),
    "SpecimenShortDescription": (_X, None),
    "SpecimenDetailedDescription": (_X, None),
    "SpecimenPreparationSequence": (_Z, None),
    "PersonIdentificationCodeSequence": (_D, None),
    "IssueDateOfImagingServiceRequest": (_X, KEEP_DATES),
    "IssueTimeOfImagingServiceRequest": (_X, KEEP_DATES),
    "OrderCallbackTelecomInformation": (_X, None),
    "ConfidentialityConstraintOnPatientDataDescription": (_X, None),
    "ScheduledProcedureStepStartDateTime": (_X, KEEP_DATES),
    "ScheduledProcedureStepExpirationDateTime": (_X, KEEP_DATES),
    "ScheduledProcedureStepModificationDateTime": (_X, KEEP_DATES),
    "ExpectedCompletionDateTime": (_X, KEEP_DATES),
    "ProcedureStepCancellationDateTime": (_X, KEEP_DATES),
    "FindingsGroupRecordingDateTrial": (_X, KEEP_DATES),
    "FindingsGroupRecordingTimeTrial": (_X, KEEP_DATES),
    "VerifyingOrganization": (_D, None),
    "ObservationStartDateTime": (_X, KEEP_DATES),
    "VerifyingObserverSequence": (_D, None),
    "ParticipationDateTime": (_Z, KEEP_DATES),
    "DateOfDocumentOrVerbalTransactionTrial": (_X, KEEP_DATES),
    "TimeOfDocumentCreationOrVerbalTransactionTrial": (_X, KEEP_DATES),
    "ObservationDateTrial": (_X, KEEP_DATES),
    "ObservationTimeTrial": (_X, KEEP_DATES),
    "CurrentObserverTrial": (_X, None),
    "VerbalSourceTrial": (_X, None),
    "AddressTrial": (_X, None),
    "TelephoneNumberTrial": (_X, None),
    "VerbalSourceIdentifierCodeSequenceTrial": (_X, None),
    "ContentSequence": (_D, None),
    "WaveformAnnotationSequence": (_X, None),  # X/D
    "TemplateVersion": (_X, KEEP_DATES),
    "TemplateLocalVersion": (_X, KEEP_DATES),
    "HL7DocumentEffectiveTime": (_X, KEEP_DATES),
    "EncapsulatedDocument": (_D, None),
    "ApprovalStatusDateTime": (_X, KEEP_DATES),
    "ProductExpirationDateTime": (_X, KEEP_DATES),
    "SubstanceAdministrationDateTime": (_X, KEEP_DATES),
    "AssertionDateTime": (_D, KEEP_DATES),
    "AssertionExpirationDateTime": (_X, KEEP_DATES),
    "ContainerComponentID": (_X, None),
    "EffectiveDateTime": (_D, KEEP_DATES),
    "InformationIssueDateTime": (_D, KEEP_DATES),
    "AnnotationGroupLabel": (_D, None),
    "AnnotationGroupDescription": (_X, None),
    "GraphicAnnotationSequence": (_D, None),
    "UnformattedTextValue": (_D, None),
    "PresentationCreationDate": (_X, KEEP_DATES),
    "PresentationCreationTime": (_X, KEEP_DATES),
    "HangingProtocolCreationDateTime": (_D, KEEP_DATES),
    "SelectorAEValue": (_D, None),
    "SelectorASValue": (_D, KEEP_PATIENT),
    "SelectorDAValue": (_D, KEEP_DATES),
    "SelectorDTValue": (_D, KEEP_DATES),
    "SelectorOBValue": (_D, None),
    "SelectorLOValue": (_D, None),
    "SelectorLTValue": (_D, None),
    "SelectorPNValue": (_D, None),
    "SelectorTMValue": (_D, KEEP_DATES),
    "SelectorSHValue": (_D, None),
    "SelectorUNValue": (_D, None),
    "SelectorSTValue": (_D, None),
    "SelectorUTValue": (_D, None),
    "SelectorURValue": (_D, None),
    "ReceivingAE": (_X, None),
    "RequestingAE": (_X, None),
    "SOPAuthorizationDateTime": (_X, KEEP_DATES),
    "DigitalSignatureDateTime": (_D, KEEP_DATES),
    "CertificateOfSigner": (_D, None),
    "CertifiedTimestamp": (_X, KEEP_DATES),
    "ReferencedDigitalSignatureSequence": (_X, None),
    "ReferencedSOPInstanceMACSequence": (_X, None),
    "NonconformingDataElementValue": (_X, None),
    "AttributeModificationDateTime": (_D, KEEP_DATES),
    "ModifyingSystem": (_D, KEEP_DEVICE),
    "SourceOfPreviousValues": (_Z, KEEP_INSTITUTION),
    "ReasonForTheAttributeModification": (_D, None),
    "InstanceOriginStatus": (_X, None),
    "CreationDate": (_X, KEEP_DATES),
    "CreationTime": (_X, KEEP_DATES),
    "Originator": (_X, None),
    "PositionAcquisitionTemplateName": (_X, None),
    "PositionAcquisitionTemplateDescription": (_X, None),
    "ROIDateTime": (_X, KEEP_DATES),
    "ROIObservationDateTime": (_X, KEEP_DATES),
    "ROICreatorSequence": (_X, None),
    "ROIInterpreterSequence": (_X, None),
    "TreatmentControlPointDate": (_D, KEEP_DATES),
    "TreatmentControlPointTime": (_D, KEEP_DATES),
    "FirstTreatmentDate": (_X, KEEP_DATES),  # X/D
    "MostRecentTreatmentDate": (_X, KEEP_DATES),  # X/D
    "SafePositionExitDate": (_D, KEEP_DATES),
    "SafePositionExitTime": (_D, KEEP_DATES),
    "SafePositionReturnDate": (_D, KEEP_DATES),
    "SafePositionReturnTime": (_D, KEEP_DATES),
    "TreatmentDate": (_X, KEEP_DATES),  # X/D
    "TreatmentTime": (_X, KEEP_DATES),  # X/D
    "PrescriptionDescription": (_X, None),
    "DoseReferenceDescription": (_X, None),
    "FractionGroupDescription": (_X, None),
    "BeamDescription": (_X, None),
    "BolusDescription": (_X, None),
    "FixationDeviceDescription": (_X, None),
    "ShieldingDeviceDescription": (_X, None),
    "SetupTechniqueDescription": (_X, None),
    "SourceManufacturer": (_X, KEEP_DEVICE),
    "SourceStrengthReferenceDate": (_D, KEEP_DATES),
    "SourceStrengthReferenceTime": (_D, KEEP_DATES),
    "CompensatorDescription": (_X, None),
    "TreatmentPositionGroupLabel": (_D, None),
    "RTAccessoryHolderSlotID": (_Z, None),
    "RTAccessoryDeviceSlotID": (_Z, None),
    "RadiationDoseIdentificationLabel": (_D, None),
    "RadiationDoseInVivoMeasurementLabel": (_D, None),
    "RTToleranceSetLabel": (_D, None),
    "EquipmentFrameOfReferenceDescription": (_X, None),
    "RadiationGenerationModeLabel": (_D, None),
    "RadiationGenerationModeDescription": (_Z, None),
    "TreatmentToleranceViolationDescription": (_D, None),
    "TreatmentToleranceViolationDateTime": (_D, KEEP_DATES),
    "RecordedRTControlPointDateTime": (_D, KEEP_DATES),
    "InterlockDateTime": (_D, KEEP_DATES),
    "InterlockDescription": (_D, None),
    "OverrideDateTime": (_D, KEEP_DATES),
    "InterlockOriginDescription": (_D, None),
    "PatientTreatmentPreparationProcedureParameterDescription": (_X, None),
    "PatientTreatmentPreparationMethodDescription": (_X, None),
    "DisplacementReferenceLabel": (_X, None),
    "ReasonForOmissionDescription": (_X, None),
    "BeamHoldTransitionDateTime": (_D, (KEEP_DATES, KEEP_DEVICE)),
    "ReviewDate": (_Z, KEEP_DATES),
    "ReviewTime": (_Z, KEEP_DATES),
    "ConceptualVolumeCombinationDescription": (_Z, None),
    "ConceptualVolumeDescription": (_Z, None),
    "DeviceAlternateIdentifier": (_Z, None),
    "DeviceLabel": (_D, KEEP_DEVICE),
    "UserContentLabel": (_D, None),
    "UserContentLongLabel": (_D, None),
    "EntityLabel": (_D, None),
    "EntityName": (_X, None),
    "EntityDescription": (_X, None),
    "EntityLongLabel": (_D, None),
    "ManufacturerDeviceIdentifier": (_Z, KEEP_DEVICE),
    "IntendedPhaseStartDate": (_X, KEEP_DATES),  # X/D
    "IntendedPhaseEndDate": (_X, KEEP_DATES),  # X/D
    "RTPrescriptionLabel": (_D, None),
    "RTTreatmentApproachLabel": (_X, None),  # X/D
    "RTPhysicianIntentNarrative": (_Z, None),
    "ReasonForSuperseding": (_Z, None),
    "PriorTreatmentDoseDescription": (_X, None),
    "TreatmentSite": (_X, None),  # X/D
    "TreatmentTechniqueNotes": (_Z, None),
    "PrescriptionNotes": (_Z, None),
    "FractionationNotes": (_Z, None),
    "PrescriptionNotesSequence": (_Z, None),
    "IntendedFractionStartTime": (_X, KEEP_DATES),
    "Arbitrary": (_X, None),
    "InterpretationTranscriptionDate": (_X, KEEP_DATES),
    "InterpretationTranscriptionTime": (_X, KEEP_DATES),
    "InterpretationApprovalDate": (_X, KEEP_DATES),
    "InterpretationApprovalTime": (_X, KEEP_DATES),
    "ResultsDistributionListSequence": (_X, None),
    "DistributionName": (_X, None),
    "DistributionAddress": (_X, None),
    "InterpretationIDIssuer": (_X, None),
}

# Attributes of Table E.1-1 that pydicom's dictionary does not name yet.
_TABLE_BY_TAG: dict[int, tuple[str, _Keep]] = {
    0x00081301: (_X, None),  # Principal Diagnosis Code Sequence
    0x00081302: (_X, None),  # Primary Diagnosis Code Sequence
    0x00081303: (_X, None),  # Secondary Diagnoses Code Sequence
    0x00081304: (_X, None),  # Histological Diagnoses Code Sequence
    0x00100011: (_X, None),  # Person Names to Use Sequence
    0x00100012: (_X, None),  # Name to Use
    0x00100013: (_X, None),  # Name to Use Comment
    0x00100014: (_X, None),  # Third Person Pronouns Sequence
    0x00100015: (_X, None),  # Pronoun Code Sequence
    0x00100016: (_X, None),  # Pronoun Comment
    0x00100041: (_X, None),  # Gender Identity Sequence
    0x00100042: (_X, None),  # Sex Parameters for Clinical Use Category Comment
    0x00100043: (_X, KEEP_PATIENT),  # Sex Parameters for Clinical Use Category Sequence
    0x00100044: (_X, None),  # Gender Identity Code Sequence
    0x00100045: (_X, None),  # Gender Identity Comment
    0x00100046: (
        _X,
        KEEP_PATIENT,
    ),  # Sex Parameters for Clinical Use Category Code Sequence
    0x00100047: (
        _X,
        KEEP_PATIENT,
    ),  # Sex Parameters for Clinical Use Category Reference
    0x00102162: (_X, KEEP_PATIENT),  # Ethnic Groups
    0x0040A034: (_X, KEEP_DATES),  # Effective Start DateTime
    0x0040A035: (_X, KEEP_DATES),  # Effective Stop DateTime
    0x0040B034: (_X, KEEP_DATES),  # Annotation DateTime
    0x0040B036: (_X, KEEP_DATES),  # Segment Definition DateTime
    0x0040B03B: (_X, None),  # Montage Name
    0x0040B03F: (_X, None),  # Montage Channel Label
    0x0040E012: (_X, None),  # Display URI
}

# UIDs that name an instance (remapped with U); class UIDs and coding
# scheme UIDs are kept. Annotation Group UID is D in Table E.1-1: a new UID,
# the same in every file of the run, is that dummy.
_UID_KEYWORDS = {
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "MediaStorageSOPInstanceUID",
    "ReferencedSOPInstanceUID",
    "ReferencedSOPInstanceUIDInFile",
    "FrameOfReferenceUID",
    "ReferencedFrameOfReferenceUID",
    "RelatedFrameOfReferenceUID",
    "SynchronizationFrameOfReferenceUID",
    "ConcatenationUID",
    "DimensionOrganizationUID",
    "IrradiationEventUID",
    "FiducialUID",
    "TargetUID",
    "UID",
    "StorageMediaFileSetUID",
    "ReferencedGeneralPurposeScheduledProcedureStepTransactionUID",
    "TransactionUID",
    "DoseReferenceUID",
    "CreatorVersionUID",
    "InstanceCreatorUID",
    "SpecimenUID",
    "TrackingUID",
    "PresentationDisplayCollectionUID",
    "PresentationSequenceCollectionUID",
    "ReferencedColorPaletteInstanceUID",
    "DeviceUID",
    "AcquisitionUID",
    "PyramidUID",
    "ObservationUID",
    "DigitalSignatureUID",
    "PaletteColorLookupTableUID",
    "LargePaletteColorLookupTableUID",
    "SourceFrameOfReferenceUID",
    "TreatmentSessionUID",
    "MultiplexGroupUID",
    "FailedSOPInstanceUIDList",
    "ReferencedDoseReferenceUID",
    "PatientSetupUID",
    "RequestedSOPInstanceUID",
    "AffectedSOPInstanceUID",
    "ReferencedObservationUIDTrial",
    "ObservationSubjectUIDTrial",
    "TemplateExtensionOrganizationUID",
    "TemplateExtensionCreatorUID",
    "AnnotationGroupUID",
    "TableTopPositionAlignmentUID",
    "TreatmentPositionGroupUID",
    "ReferencedTreatmentPositionGroupUID",
    "ConceptualVolumeUID",
    "ReferencedConceptualVolumeUID",
    "ConstituentConceptualVolumeUID",
    "SourceConceptualVolumeUID",
    "ReferencedFiducialsUID",
    "RTTreatmentPhaseUID",
    "DosimetricObjectiveUID",
    "ReferencedDosimetricObjectiveUID",
}
_UID_KEYWORDS = {k for k in _UID_KEYWORDS if tag_for_keyword(k) is not None}

# X/Z/U* in Table E.1-1: the sequence is kept and the UIDs in its items are
# remapped (as any sequence not in the table is walked through).
_UID_SEQUENCES = frozenset({"ReferencedImageSequence", "SourceImageSequence"})


def _keeps(option: _Keep) -> frozenset[str]:
    if option is None:
        return frozenset()
    return frozenset((option,) if isinstance(option, str) else option)


def _by_tag() -> dict[int, tuple[str, frozenset[str]]]:
    table = {
        tag: (action, _keeps(option)) for tag, (action, option) in _TABLE_BY_TAG.items()
    }
    for keyword, (action, option) in _TABLE.items():
        tag = tag_for_keyword(keyword)
        if tag is None:
            raise AssertionError(f"not in pydicom's dictionary: {keyword}")
        table[tag] = (action, _keeps(option))
    return table


_ACTIONS = _by_tag()
"""Table E.1-1 by tag: the action and the retain options that keep it."""

# Values with these VRs are bytes: D fills them with zeros (same length).
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})

_DUMMY = {
    "PN": "ANONYMIZED",
    "LO": "ANONYMIZED",
    "SH": "ANONYMIZED",
    "LT": "ANONYMIZED",
    "ST": "ANONYMIZED",
    "UT": "ANONYMIZED",
    "UC": "ANONYMIZED",
    "CS": "ANONYMIZED",
    "AE": "ANONYMIZED",
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "AS": "000Y",
    "DS": "0",
    "IS": "0",
    "UR": "urn:anonymized",
}


class AnonymizeError(DcmtuiError):
    """De-identification that cannot be done; the message says why."""


@dataclass(frozen=True)
class Change:
    """One attribute the profile changes."""

    path: str
    """Where: ``(0010,0010)``, or ``(0008,1140)[0].(0008,1155)`` in a sequence."""
    keyword: str
    action: str
    """X (removed), Z (emptied), D (dummy), U (new UID)."""
    old: str
    new: str

    def line(self) -> str:
        """One line for a dry run."""
        name = self.keyword or "private"
        if self.action == "X":
            return f"{self.path} {name}: remove (was {self.old!r})"
        return f"{self.path} {name}: {self.action} {self.old!r} -> {self.new!r}"


@dataclass(frozen=True)
class AnonymizeResult:
    """The outcome for one file."""

    source: str
    target: str
    ok: bool
    changes: tuple[Change, ...] = ()
    message: str = ""


@dataclass
class UidMap:
    """New UIDs for old ones, the same for the same old UID in a run."""

    salt: str = field(default_factory=lambda: secrets.token_hex(16))
    """Secret mixed into each new UID; the same salt gives the same UIDs."""
    mapping: dict[str, str] = field(default_factory=dict)

    def __call__(self, old: str) -> str:
        """The new UID for ``old``."""
        new = self.mapping.get(old)
        if new is None:
            new = str(generate_uid(prefix="2.25.", entropy_srcs=[self.salt, old]))
            self.mapping[old] = new
        return new


def _text(value: object) -> str:
    text = str(value)
    return text if len(text) <= 64 else text[:61] + "..."


def _value_text(elem: DataElement) -> str:
    if elem.VR == "SQ":
        return f"{len(elem.value or [])} items"
    if isinstance(elem.value, bytes):
        return f"{len(elem.value)} bytes"
    return _text("" if elem.value is None else elem.value)


def _path(prefix: str, tag: int) -> str:
    here = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return f"{prefix}.{here}" if prefix else here


def _is_standard_uid(value: str) -> bool:
    return UID(value).is_valid and bool(UID(value).name != value)


def _plan(
    ds: Dataset,
    keep: frozenset[str],
    uids: UidMap,
    prefix: str = "",
) -> Iterator[tuple[Dataset, DataElement, Change]]:
    """Every change the profile makes to ``ds`` (recursively), with the data
    set and element it applies to."""
    for elem in list(ds):
        tag = int(elem.tag)
        group = tag >> 16
        keyword = keyword_for_tag(tag) or ""
        path = _path(prefix, tag)
        if elem.tag.is_private and KEEP_PRIVATE not in keep:
            yield ds, elem, Change(path, "", _X, _value_text(elem), "")
            continue
        # Curve data (50xx,xxxx), Overlay Data and Overlay Comments (60xx,3000
        # and 60xx,4000): X.
        if 0x5000 <= group <= 0x50FF or (
            0x6000 <= group <= 0x60FF and (tag & 0xFFFF) in (0x3000, 0x4000)
        ):
            yield ds, elem, Change(path, keyword, _X, _value_text(elem), "")
            continue
        action, options = _ACTIONS.get(tag, (None, frozenset[str]()))
        if options & keep:
            action = None
        if action is None and keyword in _UID_KEYWORDS and KEEP_UIDS not in keep:
            action = _U
        if action == _U and KEEP_UIDS in keep:
            action = None
        if action is None:
            if elem.VR == "SQ":
                for i, item in enumerate(elem.value or []):
                    yield from _plan(item, keep, uids, f"{path}[{i}]")
            continue
        old = "" if elem.VR == "SQ" else _value_text(elem)
        if action == _X:
            yield ds, elem, Change(path, keyword, _X, old, "")
        elif action == _Z:
            if elem.VR == "SQ":
                if elem.value:
                    yield (
                        ds,
                        elem,
                        Change(path, keyword, _Z, f"{len(elem.value)} items", ""),
                    )
            elif not elem.is_empty:
                yield ds, elem, Change(path, keyword, _Z, old, "")
        elif action == _D:
            dummy = _DUMMY.get(str(elem.VR), "")
            if elem.VR == "SQ":
                yield ds, elem, Change(path, keyword, _X, "sequence", "")
            elif elem.VR in _BINARY_VRS:
                if any(elem.value or b""):
                    yield ds, elem, Change(path, keyword, _D, old, "zeros")
            elif str(elem.value) != dummy:
                yield ds, elem, Change(path, keyword, _D, old, dummy)
        elif action == _U:
            values = elem.value if elem.VM > 1 else [elem.value]
            new = [
                v if not v or _is_standard_uid(str(v)) else uids(str(v))
                for v in values
                if v is not None
            ]
            text = "\\".join(str(v) for v in new)
            if [str(v) for v in values] != [str(v) for v in new]:
                yield ds, elem, Change(path, keyword, _U, old, text)


def _apply(ds: Dataset, elem: DataElement, change: Change) -> None:
    if change.action == _X:
        if elem.tag in ds:
            del ds[elem.tag]
    elif change.action == _Z:
        elem.value = DicomSequence() if elem.VR == "SQ" else None
    elif change.action == _D and elem.VR in _BINARY_VRS:
        elem.value = bytes(len(elem.value or b""))
    elif change.action in (_D, _U):
        parts = change.new.split("\\")
        elem.value = parts if len(parts) > 1 else change.new


def _mark(ds: Dataset, keep: frozenset[str]) -> list[Change]:
    """Patient Identity Removed, De-identification Method and its codes."""
    options = [o for o in OPTIONS if o in keep]
    method = "PS3.15 Annex E Basic Application Confidentiality Profile"
    if options:
        method += " (retain " + ", ".join(options) + ")"
    method = method[:64]
    changes = [
        Change(
            "(0012,0062)",
            "PatientIdentityRemoved",
            _D,
            str(ds.get("PatientIdentityRemoved", "")),
            "YES",
        ),
        Change(
            "(0012,0063)",
            "DeidentificationMethod",
            _D,
            str(ds.get("DeidentificationMethod", "")),
            method,
        ),
    ]
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = method
    codes = [("113100", "Basic Application Confidentiality Profile")]
    codes += [_OPTION_CODES[o] for o in options]
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = DicomSequence(items)
    changes.append(
        Change(
            "(0012,0064)",
            "DeidentificationMethodCodeSequence",
            _D,
            "",
            " ".join(c for c, _ in codes),
        )
    )
    return changes


def anonymize_dataset(
    ds: FileDataset, keep: frozenset[str], uids: UidMap
) -> list[Change]:
    """Apply the profile to a data set read from a file, in place.

    Args:
        ds: The data set (with ``file_meta``).
        keep: Retain options (:data:`OPTIONS`, and ``private``).
        uids: The run's UID map.

    Returns:
        Every change made.
    """
    unknown = set(keep) - set(OPTIONS) - {KEEP_PRIVATE}
    if unknown:
        raise AnonymizeError(
            f"unknown retain option {', '.join(sorted(unknown))}: use "
            f"{', '.join((*OPTIONS, KEEP_PRIVATE))}"
        )
    planned = list(_plan(ds, keep, uids))
    for parent, elem, change in planned:
        _apply(parent, elem, change)
    changes = [c for _, _, c in planned]
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "SOPInstanceUID" in ds and KEEP_UIDS not in keep:
        old = str(meta.get("MediaStorageSOPInstanceUID", ""))
        if old != str(ds.SOPInstanceUID):
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            changes.append(
                Change(
                    "(0002,0003)",
                    "MediaStorageSOPInstanceUID",
                    _U,
                    old,
                    str(ds.SOPInstanceUID),
                )
            )
    changes += _mark(ds, keep)
    return changes


def _write(ds: FileDataset, source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".anon-", dir=target.parent)
    tmp = Path(name)
    try:
        os.chmod(tmp, (target if target.exists() else source).stat().st_mode & 0o777)
        with os.fdopen(fd, "wb") as out:
            ds.save_as(out, enforce_file_format=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def anonymize_file(
    source: Path,
    target: Path | None,
    keep: frozenset[str] = frozenset(),
    uids: UidMap | None = None,
    dry_run: bool = False,
) -> AnonymizeResult:
    """De-identify one file (blocking).

    Args:
        source: A DICOM file.
        target: Where to write (None: in place).
        keep: Retain options.
        uids: The run's UID map (a new one when None).
        dry_run: List the changes, write nothing.

    Returns:
        The changes made (or that would be made).
    """
    try:
        ds = dcmread(source)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise FileReadError(source, str(exc).splitlines()[0] or "unreadable") from exc
    changes = anonymize_dataset(ds, keep, uids or UidMap())
    out = target or source
    if not dry_run:
        _write(ds, source, out)
    return AnonymizeResult(
        str(source), "" if dry_run else str(out), True, tuple(changes)
    )


def anonymize_iter(
    sources: Sequence[Path],
    out_dir: Path | None,
    keep: frozenset[str] = frozenset(),
    salt: str | None = None,
    dry_run: bool = False,
) -> Iterator[AnonymizeResult]:
    """De-identify files one by one with one UID map (blocking).

    A failure is a result, not a stop. Files keep their names under
    ``out_dir``; two sources of the same name are refused.
    """
    uids = UidMap(salt) if salt is not None else UidMap()
    targets: list[Path | None] = [None] * len(sources)
    if out_dir is not None:
        seen: dict[Path, Path] = {}
        for i, source in enumerate(sources):
            named = out_dir / source.name
            if named in seen:
                raise AnonymizeError(
                    f"{seen[named]} and {source} would both be written to {named}"
                )
            seen[named] = source
            targets[i] = named
    for source, target in zip(sources, targets, strict=True):
        try:
            yield anonymize_file(source, target, keep, uids, dry_run)
        except DcmtuiError as exc:
            yield AnonymizeResult(str(source), "", False, message=str(exc))
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            yield AnonymizeResult(
                str(source), "", False, message=f"{source}: {type(exc).__name__}: {exc}"
            )


async def anonymize_files(
    sources: Sequence[Path],
    out_dir: Path | None,
    keep: frozenset[str] = frozenset(),
    salt: str | None = None,
    dry_run: bool = False,
) -> AsyncIterator[AnonymizeResult]:
    """De-identify files in a thread, a result per file."""
    make: Callable[[], Iterator[AnonymizeResult]] = lambda: anonymize_iter(  # noqa: E731
        sources, out_dir, keep, salt, dry_run
    )
    async for result in iterate_in_thread(make):
        yield result


async def anonymize_one(
    source: Path, target: Path | None, keep: frozenset[str] = frozenset()
) -> AnonymizeResult:
    """De-identify one file in a thread."""
    return await asyncio.to_thread(anonymize_file, source, target, keep)
