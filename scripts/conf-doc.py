#!/usr/bin/env python3
"""Regenerates the key table of docs/configuration.md from lib/conf.h's
STRATA_CONF_KEYS table (tests/unit/test_lib_conf.c checks they agree)."""
import os
import re

here = os.path.dirname(os.path.abspath(__file__))
src = open(os.path.join(here, "..", "lib", "conf.h")).read()
body = src[src.index("#define STRATA_CONF_KEYS(X)"):src.index("enum conf_type")]
body = body.replace("\\\n", "\n")
types = {"STR": "string", "INT": "integer", "SIZE": "size", "DURATION": "duration",
         "BOOL": "boolean", "LIST": "list", "ENUM": "enum", "SECRET": "secret"}
rows = []
for m in re.finditer(r'X\((\w+),\s*"([^"]+)",\s*(\w+),\s*"([^"]*)",\s*(.*?),\s*(.*?),\s*'
                     r'(NULL|"[^"]*"),\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)', body, re.S):
    _, key, typ, default, _, _, choices, doc = m.groups()
    doc = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', doc))
    if typ == "ENUM":
        doc += " One of: " + choices.strip('"').replace("|", ", ") + "."
    shown = f"`{default}`" if default else "(empty)"
    rows.append(f"| `{key}` | {types[typ]} | {shown} | {doc} |")

path = os.path.join(here, "..", "docs", "configuration.md")
doc = open(path).read()
head, _, rest = doc.partition("| key | type | default | meaning |\n| --- | --- | --- | --- |\n")
tail = rest[rest.index("\n\n"):] if "\n\n" in rest else "\n"
open(path, "w").write(head + "| key | type | default | meaning |\n| --- | --- | --- | --- |\n"
                      + "\n".join(rows) + tail)
print(f"{len(rows)} keys written to docs/configuration.md")
