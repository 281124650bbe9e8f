#!/usr/bin/env python3
"""Writes passthru(8), gzipped as Debian wants it (gzip -9n: no name, no time), from the same text
as `passthru --help` (the description and the options, run from the built binary) and the
README's config reference (its "## The config" section, Markdown turned into roff).
Usage: manpage.py PASSTHRU_BINARY README.md VERSION OUT.8.gz"""

import gzip
import re
import subprocess
import sys


def roff_text(text):
    """Escapes roff's specials in running text, and turns `code` and **bold** into fonts."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = re.sub(r"`([^`]*)`", r"\\fB\1\\fR", text)
    return re.sub(r"\*\*([^*]*)\*\*", r"\\fB\1\\fR", text)


def line(text):
    """A roff line that cannot be taken for a request (one starting with . or '), in ASCII:
    groff names any other character by its code point."""
    text = "".join(c if ord(c) < 128 else "\\[u%04X]" % ord(c) for c in text)
    return "\\&" + text if text[:1] in (".", "'") else text


def from_help(help_text):
    lines = help_text.splitlines()
    description = lines[0]
    options, current = [], None
    in_options = False
    for raw in lines[1:]:
        if raw.strip() == "Options:":
            in_options = True
            continue
        if not in_options or not raw.strip():
            continue
        m = re.match(r"^  (-\S.*?)(?:\s{2,}(.*))?$", raw)
        if m and not raw.startswith(" " * 10):
            current = [m.group(1), m.group(2) or ""]
            options.append(current)
        elif current:
            current[1] = (current[1] + " " + raw.strip()).strip()
    return description, options


def from_readme(readme, heading="## The config"):
    """The section under `heading`, up to the next level-2 heading, as roff."""
    text = readme.split(heading + "\n", 1)[1]
    text = re.split(r"\n## ", text, maxsplit=1)[0]
    out, in_code, paragraph = [], False, []

    def flush():
        if paragraph:
            out.append(line(roff_text(" ".join(paragraph))))
            paragraph.clear()

    for raw in text.splitlines():
        if raw.startswith("```"):
            flush()
            out.append(".PP\n.nf\n.RS 2" if not in_code else ".RE\n.fi")
            in_code = not in_code
        elif in_code:
            out.append(line(raw.replace("\\", "\\e")))
        elif raw.startswith("### "):
            flush()
            out.append(".SS " + roff_text(raw[4:]))
        elif raw.startswith("- "):
            flush()
            out.append(".IP \\(bu 2")
            paragraph.append(raw[2:].strip())
        elif not raw.strip():
            flush()
            out.append(".PP")
        else:
            paragraph.append(raw.strip())
    flush()
    return "\n".join(out)


def main():
    binary, readme_path, version, out_path = sys.argv[1:5]
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    description, options = from_help(help_text)
    readme = open(readme_path, encoding="utf-8").read()
    page = [
        f'.TH PASSTHRU 8 "" "passthru {version}" "System Manager\'s Manual"',
        ".SH NAME",
        "passthru \\- many services on one TCP port, routed by each connection's first bytes",
        ".SH SYNOPSIS",
        ".B passthru",
        "[\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION",
        line(roff_text(description[0].upper() + description[1:])),
        ".SH OPTIONS",
    ]
    for names, text in options:
        page += [".TP", "\\fB" + roff_text(names) + "\\fR", line(roff_text(text))]
    page += [".SH CONFIGURATION", from_readme(readme),
             ".SH FILES",
             ".TP", "\\fI/etc/passthru/passthru.toml\\fR", "the config file read by default",
             ".TP", "\\fI/usr/lib/passthru/plugins/\\fR", "the built\\-in detector plugins",
             ".TP", "\\fI/lib/systemd/system/passthru.service\\fR", "the systemd unit",
             ".TP", "\\fI/usr/lib/cmake/passthru/\\fR",
             "the CMake package for plugins built out of tree: \\fBfind_package(Passthru)\\fR",
             ".SH SEE ALSO",
             "\\fBsystemctl\\fR(1), \\fBsystemd.exec\\fR(5); the README in /usr/share/doc/passthru"]
    data = ("\n".join(page) + "\n").encode("utf-8")
    with open(out_path, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as z:
        z.write(data)


if __name__ == "__main__":
    main()
