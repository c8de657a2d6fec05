#!/usr/bin/env python3
"""Fail when a non-test Rust function is longer than the limit (80 lines by default).

Usage: check-function-length.py [--max N] [--exclude DIR]... <src dir> [<src dir> ...]
       check-function-length.py --self-test

A function's length counts every line from the one holding `fn name` to the one holding
its closing brace, both included; attributes and doc comments above it are not counted.
Nested functions are reported on their own and also count towards the enclosing one.
Test code is skipped: any item under `#[cfg(test)]` (a `mod tests { … }` block, or the
file of a `#[cfg(test)] mod tests;` declaration), files starting with `#![cfg(test)]`,
and `#[test]` functions. Comments and string literals are ignored when matching braces.
`--exclude DIR` skips every file under DIR (a path as given on the command line, e.g.
`src/resources`). Each long function is printed as `file:line: name is N lines`; the
exit status is 1 if there is any (0 if none, 2 on bad usage).
"""

import importlib.util
import os
import re
import sys
import tempfile

DEFAULT_MAX = 80

# The comment/string blanking is shared with the module-cycle check.
_spec = importlib.util.spec_from_file_location(
    "check_module_cycles", os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-module-cycles.py")
)
_cycles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cycles)
strip_comments_and_strings = _cycles.strip_comments_and_strings

FN = re.compile(r"(?<![A-Za-z0-9_])fn\s+([A-Za-z_][A-Za-z0-9_]*)")
CFG_TEST = re.compile(r"#\[\s*cfg\s*\(\s*(?:all\s*\(\s*)?test\b[^\]]*\]")
TEST_ATTR = re.compile(r"#\[\s*(?:[A-Za-z_:]*::)?test\b[^\]]*\]")
ATTR = re.compile(r"\s*#\[")
MOD_DECL = re.compile(r"(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;")


def matching_brace(code, open_at):
    """Offset of the `}` closing the `{` at `open_at` (end of code if unbalanced)."""
    depth = 0
    for i in range(open_at, len(code)):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(code) - 1


def body_start(code, after_name):
    """Offset of the `{` opening a function body, or None for a bodiless declaration.

    Parentheses and brackets are tracked so that `[u8; 4]` in a signature is not taken
    for the `;` ending a trait method declaration."""
    depth = 0
    for i in range(after_name, len(code)):
        c = code[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and c == "{":
            return i
        elif depth == 0 and c == ";":
            return None
    return None


def skip_attributes(code, i):
    """Offset of the first non-attribute text at or after `i`."""
    while True:
        m = ATTR.match(code, i)
        if not m:
            return len(code) - len(code[i:].lstrip())
        depth, j = 0, m.end() - 1
        while j < len(code):
            if code[j] == "[":
                depth += 1
            elif code[j] == "]":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        i = j + 1


def item_span(code, start):
    """(start, end) of the item beginning at `start`: up to its `;` or its matching `}`."""
    depth = 0
    for i in range(start, len(code)):
        c = code[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and c == ";":
            return start, i
        elif depth == 0 and c == "{":
            return start, matching_brace(code, i)
    return start, len(code)


def test_spans(code):
    """Spans of test-only items, and the names of test modules declared as `mod x;`."""
    spans, test_mod_files = [], set()
    for attr in (CFG_TEST, TEST_ATTR):
        for m in attr.finditer(code):
            start = skip_attributes(code, m.end())
            decl = MOD_DECL.match(code, start)
            if decl:
                test_mod_files.add(decl.group(1))
            spans.append(item_span(code, start))
    return spans, test_mod_files


def long_functions(path, text, limit):
    """(line, name, length) of every non-test function in `text` longer than `limit`."""
    code = strip_comments_and_strings(text)
    if re.match(r"\s*#!\[\s*cfg\s*\(\s*test\s*\)\s*\]", code):
        return [], set()
    spans, test_mods = test_spans(code)
    found = []
    for m in FN.finditer(code):
        if any(s <= m.start() <= e for s, e in spans):
            continue
        open_at = body_start(code, m.end())
        if open_at is None:
            continue
        first = code.count("\n", 0, m.start()) + 1
        last = code.count("\n", 0, matching_brace(code, open_at)) + 1
        length = last - first + 1
        if length > limit:
            found.append((first, m.group(1), length))
    return found, test_mods


def rust_files(src, excluded):
    for root, dirs, names in os.walk(src):
        dirs.sort()
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(root, d)) not in excluded]
        for name in sorted(names):
            path = os.path.join(root, name)
            if name.endswith(".rs") and os.path.normpath(path) not in excluded:
                yield path


def test_module_files(path, names):
    """Files that hold the bodies of `mod name;` declarations made in `path`."""
    here = os.path.dirname(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    # `mod x;` in foo.rs lives in foo/x.rs; in mod.rs, lib.rs or main.rs it lives beside them.
    base = here if stem in ("mod", "lib", "main") else os.path.join(here, stem)
    files = set()
    for name in names:
        files.add(os.path.normpath(os.path.join(base, name + ".rs")))
        files.add(os.path.normpath(os.path.join(base, name, "mod.rs")))
    return files


def check(srcs, excluded, limit, out=sys.stdout):
    excluded = {os.path.normpath(e) for e in excluded}
    reports, test_files = [], set()
    for src in srcs:
        for path in rust_files(src, excluded):
            with open(path, encoding="utf-8", errors="replace") as fh:
                found, test_mods = long_functions(path, fh.read(), limit)
            test_files |= test_module_files(path, test_mods)
            reports.extend((path, line, name, length) for line, name, length in found)
    reports = [r for r in reports if os.path.normpath(r[0]) not in test_files]
    for path, line, name, length in reports:
        print(f"{path}:{line}: {name} is {length} lines (limit {limit})", file=out)
    if not reports:
        print(f"{' '.join(srcs)}: no non-test function over {limit} lines", file=out)
    return 1 if reports else 0


def self_test():
    body = "\n".join(f"    let _x{i} = {i};" for i in range(78))
    files = {
        # exactly 80 lines: allowed
        "ok.rs": f"fn fits() {{\n{body}\n}}\n",
        # 81 lines, with a brace in a string and a comment that must not end it early
        "long.rs": f"/// doc\n#[inline]\npub(crate) fn too_long(a: [u8; 4]) -> u8 {{\n    let _s = \"}}\"; // }}\n{body}\n}}\n",
        "traits.rs": "trait T {\n    fn decl(&self) -> [u8; 2];\n}\n",
        "inline_tests.rs": f"fn small() {{}}\n#[cfg(test)]\nmod tests {{\n    fn helper() {{\n{body}\n\n\n}}\n}}\n",
        "outer.rs": "#[cfg(test)]\nmod tests;\n",
        "outer/tests.rs": f"fn helper() {{\n{body}\n\n\n}}\n",
        "skipped/big.rs": f"fn big() {{\n{body}\n\n\n}}\n",
        "attr_test.rs": f"#[test]\nfn case() {{\n{body}\n\n\n}}\n",
    }
    with tempfile.TemporaryDirectory() as src:
        for rel, text in files.items():
            path = os.path.join(src, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                fh.write(text)

        class Lines(list):
            def write(self, s):
                self.append(s)

        out = Lines()
        status = check([src], [os.path.join(src, "skipped")], DEFAULT_MAX, out)
        text = "".join(out)
        assert status == 1, text
        assert f"{os.path.join(src, 'long.rs')}:3: too_long is 81 lines" in text, text
        assert text.count(" lines (limit") == 1, text
        out = Lines()
        assert check([src], [os.path.join(src, "skipped"), os.path.join(src, "long.rs")], DEFAULT_MAX, out) == 0
        out = Lines()
        assert check([src], [os.path.join(src, "long.rs")], DEFAULT_MAX, out) == 1
        assert "big is 82 lines" in "".join(out), "".join(out)
    print("self-test passed")
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    limit, excluded, srcs = DEFAULT_MAX, [], []
    args = iter(argv)
    for a in args:
        if a in ("--max", "--exclude"):
            value = next(args, None)
            if value is None:
                srcs = []
                break
            if a == "--exclude":
                excluded.append(value)
            elif value.isdigit():
                limit = int(value)
            else:
                srcs = []
                break
        elif a.startswith("-"):
            srcs = []
            break
        else:
            srcs.append(a)
    if not srcs or any(not os.path.isdir(s) for s in srcs):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    return check(srcs, excluded, limit)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
