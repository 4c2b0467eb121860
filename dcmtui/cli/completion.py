"""``dcmtui completion bash|zsh``: shell completion made from the parsers.

The script is generated from the same argparse parsers that read the command
line (the main parser and every command's, including sub-actions such as
``nodes add``), so it never falls behind: subcommand names, their options,
the choices of options that have them, and file names where an argument is a
path.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dcmtui.cli import PROG, Command
from dcmtui.config import Settings

FILE = "file"
"""Kind of a value that is a path: completed with file names."""
NODE_NAMES = f"{PROG} completion --node-names 2>/dev/null"
"""The shell command that lists the address book's names (run on TAB)."""


@dataclass
class Spec:
    """What can follow one command (or sub-action) on the command line."""

    flags: dict[str, str] = field(default_factory=dict)
    """Every option string and its help (options without a value)."""
    values: dict[str, str | list[str]] = field(default_factory=dict)
    """Options that take a value: ``FILE``, a list of choices, or ""."""
    helps: dict[str, str] = field(default_factory=dict)
    """Help of each option that takes a value."""
    positional: str | list[str] = ""
    """What positional arguments are: ``FILE``, choices, or "" (free text)."""
    subs: dict[str, tuple[str, Spec]] = field(default_factory=dict)
    """Sub-actions (``nodes list``): name → (help, spec)."""
    repeat: set[str] = field(default_factory=set)
    """Options that may be given more than once (``-m``, ``-k``)."""
    optional: set[str] = field(default_factory=set)
    """Options whose value may be left out (``--listen [PORT]``)."""
    first_node: bool = False
    """The first positional argument is a node of the address book."""


def _kind(action: argparse.Action) -> str | list[str]:
    if action.choices is not None and not isinstance(action.choices, dict):
        return [str(c) for c in action.choices]
    if action.type is Path:
        return FILE
    return ""


def spec_of(parser: argparse.ArgumentParser) -> Spec:
    """The completion spec of one parser."""
    spec = Spec()
    kinds: list[str | list[str]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                spec.subs[name] = (helps.get(name, ""), spec_of(sub))
            continue
        if not action.option_strings:
            if not kinds and action.dest == "node":
                spec.first_node = True
            kinds.append(_kind(action))
            continue
        takes_value = action.nargs != 0
        for option in action.option_strings:
            custom = type(action).__module__ != "argparse"  # e.g. modify's -m/-i/-e
            if custom or isinstance(
                action, argparse._AppendAction | argparse._CountAction
            ):
                spec.repeat.add(option)
            if action.nargs == "?":
                spec.optional.add(option)
            if takes_value:
                spec.values[option] = _kind(action)
                spec.helps[option] = action.help or ""
            else:
                spec.flags[option] = action.help or ""
    if FILE in kinds:
        spec.positional = FILE
    elif kinds and isinstance(kinds[0], list):
        spec.positional = kinds[0]
    return spec


def command_specs() -> tuple[Spec, dict[str, tuple[str, Spec]]]:
    """The main parser's spec and each command's (help, spec)."""
    from dcmtui.cli import _command_parser, _commands, _main_parser

    main = spec_of(_main_parser())
    main.positional = FILE
    commands = {
        name: (cmd.help, spec_of(_command_parser(name, cmd)))
        for name, cmd in _commands().items()
    }
    return main, commands


# -- bash -----------------------------------------------------------------------


def _bash_word(text: str) -> str:
    """A word safe inside a bash double-quoted string (option names, choices)."""
    return re.sub(r"[^A-Za-z0-9_.,:@+=/-]", "", text)


def _bash_case(spec: Spec, indent: str) -> list[str]:
    """Bash lines completing the current word for ``spec``."""
    out = [f'{indent}case "$prev" in']
    for option, kind in sorted(spec.values.items()):
        if kind == FILE:
            action = 'COMPREPLY=($(compgen -f -- "$cur")); return'
        elif isinstance(kind, list):
            words = " ".join(_bash_word(k) for k in kind)
            action = f'COMPREPLY=($(compgen -W "{words}" -- "$cur")); return'
        else:
            action = "return"
        out.append(f"{indent}  {_bash_word(option)}) {action};;")
    out.append(f"{indent}esac")
    if spec.first_node:
        out += [
            f'{indent}if [[ $npos -eq 0 && "$cur" != -* ]]; then',
            f'{indent}  COMPREPLY=($(compgen -W "$({NODE_NAMES})" -- "$cur"))',
            f"{indent}  return",
            f"{indent}fi",
        ]
    options = " ".join(_bash_word(o) for o in sorted([*spec.flags, *spec.values]))
    words = " ".join(_bash_word(s) for s in spec.subs)
    if isinstance(spec.positional, list):
        words = " ".join([words, *map(_bash_word, spec.positional)]).strip()
    out += [
        f'{indent}if [[ "$cur" == -* ]]; then',
        f'{indent}  COMPREPLY=($(compgen -W "{options}" -- "$cur"))',
        f"{indent}else",
        f'{indent}  COMPREPLY=($(compgen -W "{words}" -- "$cur"))',
    ]
    if spec.positional == FILE:
        out.append(f'{indent}  COMPREPLY+=($(compgen -f -- "$cur"))')
    out += [f"{indent}fi", f"{indent}return"]
    return out


def bash_script() -> str:
    """The bash completion script (``source`` it, or put it in bash-completion)."""
    main, commands = command_specs()
    value_options: set[str] = set(main.values) - main.optional
    for _, spec in commands.values():
        value_options |= set(spec.values) - spec.optional
        for _, sub in spec.subs.values():
            value_options |= set(sub.values) - sub.optional
    takes_value = " ".join(sorted(_bash_word(o) for o in value_options))
    main.subs = {name: (h, Spec()) for name, (h, _) in commands.items()}
    lines = [
        f"# bash completion for {PROG} (made by: {PROG} completion bash)",
        f"_{PROG}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    local cmd="" sub="" word skip="" i npos=0',
        f'    local takes_value=" {takes_value} "',
        "    COMPREPLY=()",
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        word="${COMP_WORDS[i]}"',
        '        if [[ -n "$skip" ]]; then skip=""; continue; fi',
        '        if [[ "$word" == -* ]]; then',
        '            [[ "$takes_value" == *" $word "* ]] && skip=1',
        "            continue",
        "        fi",
        '        if [[ -z "$cmd" ]]; then cmd="$word"',
        '        elif [[ -z "$sub" ]]; then sub="$word"; npos=1',
        "        else npos=$((npos + 1)); fi",
        "    done",
        '    case "$cmd" in',
        '    "")',
        *_bash_case(main, "        "),
        "        ;;",
    ]
    for name, (_, spec) in commands.items():
        lines.append(f"    {_bash_word(name)})")
        if spec.subs:
            lines.append('        case "$sub" in')
            for sub_name, (_, sub) in spec.subs.items():
                lines.append(f"        {_bash_word(sub_name)})")
                lines += _bash_case(sub, "            ")
                lines.append("            ;;")
            lines.append("        esac")
        lines += _bash_case(spec, "        ")
        lines.append("        ;;")
    lines += [
        "    *)",
        '        COMPREPLY=($(compgen -f -- "$cur"))',
        "        ;;",
        "    esac",
        "}",
        f"complete -o filenames -F _{PROG} {PROG}",
        "",
    ]
    return "\n".join(lines)


# -- zsh ------------------------------------------------------------------------


def _zsh_text(text: str) -> str:
    """Help text safe inside a single-quoted _arguments spec."""
    text = re.sub(r"[^\w ,.()/+=@-]", "", text.replace("\n", " "))
    return text.replace("(", "").replace(")", "")


def _zsh_specs(spec: Spec) -> list[str]:
    out = []
    for option, help_text in sorted(spec.flags.items()):
        star = "*" if option in spec.repeat else ""
        out.append(f"'{star}{_bash_word(option)}[{_zsh_text(help_text)}]'")
    for option, kind in sorted(spec.values.items()):
        help_text = _zsh_text(spec.helps.get(option, ""))
        if kind == FILE:
            action = "_files"
        elif isinstance(kind, list):
            action = "(" + " ".join(_bash_word(k) for k in kind) + ")"
        else:
            action = " "
        star = "*" if option in spec.repeat else ""
        name = _bash_word(option) + ("-" if option in spec.optional else "")
        out.append(f"'{star}{name}[{help_text}]:value:{action}'")
    if spec.first_node:
        names = '${(f)"$(' + NODE_NAMES + ')"}'
        out.append(f"'1:node:{{compadd -- {names}}}'")
    if spec.positional == FILE:
        out.append("'*:file:_files'")
    elif isinstance(spec.positional, list):
        words = " ".join(_bash_word(k) for k in spec.positional)
        out.append(f"'*:value:({words})'")
    return out


def _zsh_call(spec: Spec, indent: str) -> list[str]:
    specs = _zsh_specs(spec)
    if not specs:
        return [f"{indent}_message 'no more arguments'"]
    return [f"{indent}_arguments \\"] + [
        f"{indent}  {s}" + (" \\" if i < len(specs) - 1 else "")
        for i, s in enumerate(specs)
    ]


def zsh_script() -> str:
    """The zsh completion script (``#compdef``; put it in ``$fpath`` or source it)."""
    main, commands = command_specs()
    described = [
        f"    '{_bash_word(name)}:{_zsh_text(help_text)}'"
        for name, (help_text, _) in commands.items()
    ]
    lines = [
        f"#compdef {PROG}",
        f"# zsh completion for {PROG} (made by: {PROG} completion zsh)",
        f"_{PROG}() {{",
        '  local curcontext="$curcontext" state line',
        "  typeset -A opt_args",
        "  local -a commands",
        "  commands=(",
        *described,
        "  )",
        "  _arguments -C \\",
        *[f"    {s} \\" for s in _zsh_specs(main) if not s.startswith("'*")],
        "    '1: :->command' \\",
        "    '*:: :->args'",
        "  case $state in",
        "  command)",
        "    _describe -t commands 'dcmtui command' commands",
        "    _files",
        "    ;;",
        "  args)",
        "    case $line[1] in",
    ]
    for name, (_, spec) in commands.items():
        lines.append(f"    {_bash_word(name)})")
        if spec.subs:
            subs = " ".join(
                f"'{_bash_word(n)}:{_zsh_text(h)}'" for n, (h, _) in spec.subs.items()
            )
            lines += [
                "      if (( CURRENT == 2 )); then",
                f"        local -a actions; actions=({subs})",
                "        _describe -t actions 'action' actions",
                "      else",
                "        case $words[2] in",
            ]
            for sub_name, (_, sub) in spec.subs.items():
                lines.append(f"        {_bash_word(sub_name)})")
                lines.append("          shift words; (( CURRENT-- ))")
                lines += _zsh_call(sub, "          ")
                lines.append("          ;;")
            lines += ["        esac", "      fi"]
        else:
            lines += _zsh_call(spec, "      ")
        lines.append("      ;;")
    lines += [
        "    esac",
        "    ;;",
        "  esac",
        "}",
        'if [[ "$funcstack[1]" == "_dcmtui" ]]; then',
        '  _dcmtui "$@"',
        "else",
        f"  compdef _{PROG} {PROG}",
        "fi",
        "",
    ]
    return "\n".join(lines)


# -- the command ----------------------------------------------------------------


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", nargs="?", choices=("bash", "zsh"), help="the shell")
    parser.add_argument(
        "--node-names", action="store_true", help=argparse.SUPPRESS
    )  # what the scripts run to complete NODE


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.node_names:
        from dcmtui.services.nodes import NodeBook

        for node in NodeBook.in_folder(settings.config_dir).nodes():
            if node.name.isprintable() and " " not in node.name:
                print(node.name)
        return 0
    if args.shell is None:
        print("dcmtui: error: name a shell: bash or zsh", file=sys.stderr)
        return 2
    print(bash_script() if args.shell == "bash" else zsh_script(), end="")
    return 0


COMMANDS: dict[str, Command] = {
    "completion": Command(
        help="print a bash or zsh completion script",
        configure=_configure,
        run=_run,
        epilog="examples:\n"
        "  source <(dcmtui completion bash)        # this shell only\n"
        "  dcmtui completion bash > ~/.local/share/bash-completion/completions/"
        "dcmtui\n"
        "  dcmtui completion zsh > ~/.zfunc/_dcmtui  # with fpath+=(~/.zfunc) "
        "before compinit",
    ),
}
