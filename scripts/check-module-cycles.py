#!/usr/bin/env python3
"""Fail when the top-level modules of a Rust crate import each other in a cycle.

Usage: check-module-cycles.py <crate src dir> [<crate src dir> ...]
       check-module-cycles.py --self-test

Every `.rs` file under a src dir belongs to a top-level module: `src/foo.rs` and
everything under `src/foo/` belong to `foo`; `lib.rs`, `main.rs` and `src/bin/` are the
crate roots and belong to none. A file of module `a` that mentions `crate::b` (in a
`use` line, including grouped forms such as `use crate::{b, c::d}`, or as a path in
code) gives the edge a -> b. Comments and string literals are ignored; `super::` paths
are not followed. Every elementary cycle of the resulting graph is printed with one
reference per edge as evidence, and the exit status is 1 if there is any (0 if none,
2 on bad usage).
"""

import os
import re
import sys
import tempfile

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CRATE_PATH = re.compile(r"(?<![A-Za-z0-9_])\$?crate\s*::\s*")
MAX_CYCLES = 500


def strip_comments_and_strings(text):
    """Blank out comments, string and char literals, keeping newlines (for line numbers)."""
    out = []
    i, n = 0, len(text)

    def blank(chunk):
        out.append(re.sub(r"[^\n]", " ", chunk))

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(text[i:j])
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(text[i:j])
            i = j
        elif re.match(r'b?r#*"', text[i:i + 300]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'b?r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            blank(text[i:j])
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(text[i:j + 1])
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}') or a lifetime/label ('a).
            m = re.match(r"'(\\(u\{[0-9A-Fa-f]+\}|x[0-9A-Fa-f]{2}|.)|[^\\'])'", text[i:i + 16])
            if m:
                blank(m.group(0))
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def group_heads(code, start):
    """First identifiers of the top-level items of a `{…}` group starting at `start`."""
    heads, depth, i, expect = [], 0, start, True
    while i < len(code):
        c = code[i]
        if c == "{":
            depth += 1
            expect = depth == 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return heads
        elif c == "," and depth == 1:
            expect = True
        elif expect and depth == 1:
            m = IDENT.match(code, i)
            if m:
                heads.append(m.group(0))
                expect = False
                i = m.end()
                continue
        i += 1
    return heads


def crate_references(code):
    """(module name, offset) for every `crate::name` and `crate::{a, b::c}` in the code."""
    refs = []
    for m in CRATE_PATH.finditer(code):
        rest = m.end()
        if code.startswith("{", rest):
            refs.extend((h, m.start()) for h in group_heads(code, rest))
        else:
            ident = IDENT.match(code, rest)
            if ident:
                refs.append((ident.group(0), m.start()))
    return refs


def module_of(src, path):
    rel = os.path.relpath(path, src).split(os.sep)
    if rel[0] == "bin" or rel == ["lib.rs"] or rel == ["main.rs"]:
        return None
    return rel[0][:-3] if len(rel) == 1 else rel[0]


def build_graph(src):
    files = []
    for root, dirs, names in os.walk(src):
        dirs.sort()
        files.extend(os.path.join(root, f) for f in sorted(names) if f.endswith(".rs"))
    modules = {m for m in (module_of(src, f) for f in files) if m}
    edges = {}  # (a, b) -> "file:line: text" of the first reference
    for path in files:
        a = module_of(src, path)
        if a is None:
            continue
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        code = strip_comments_and_strings(text)
        lines = text.split("\n")
        for b, offset in crate_references(code):
            if b == a or b not in modules or (a, b) in edges:
                continue
            line = code.count("\n", 0, offset)
            where = os.path.relpath(path, src)
            edges[(a, b)] = f"{where}:{line + 1}: {lines[line].strip()}"
    graph = {m: sorted(b for (x, b) in edges if x == m) for m in modules}
    return graph, edges


def cycles(graph):
    """Elementary cycles, each starting at its smallest module (at most MAX_CYCLES)."""
    found = []
    order = sorted(graph)
    for start in order:
        stack = [(start, iter(graph[start]))]
        path, on_path = [start], {start}
        while stack and len(found) < MAX_CYCLES:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                on_path.discard(path.pop())
            elif nxt == start:
                found.append(path + [start])
            elif nxt > start and nxt not in on_path:
                stack.append((nxt, iter(graph[nxt])))
                path.append(nxt)
                on_path.add(nxt)
    return found


def check(src):
    if not os.path.isdir(src):
        print(f"check-module-cycles: {src} is not a directory", file=sys.stderr)
        return 2
    graph, edges = build_graph(src)
    found = cycles(graph)
    if not found:
        print(f"{src}: no cycles between the {len(graph)} top-level modules")
        return 0
    print(f"{src}: {len(found)} cycle(s) between top-level modules:")
    for c in found:
        print("  " + " -> ".join(c))
        for a, b in zip(c, c[1:]):
            print(f"      {a} -> {b}  ({edges[(a, b)]})")
    if len(found) >= MAX_CYCLES:
        print(f"  (stopped after {MAX_CYCLES} cycles)")
    return 1


def self_test():
    files = {
        "lib.rs": "pub mod a; pub mod b; pub mod c; pub mod d; pub mod e;\nuse crate::a::X;\n",
        "a.rs": "use crate::{b::Y, c};\n// use crate::e;\nconst S: &str = \"crate::e::Z\";\nconst Q: char = '\"';\n",
        "b/mod.rs": "pub mod inner;\n",
        "b/inner.rs": "fn f() { crate::a::g(); }\n",
        "c.rs": "pub(crate) use crate::d::Z;\nuse crate::specs_helper;\n",
        "d.rs": "fn f<'a>(x: &'a str) { let _ = r#\"crate::c\"#; }\n",
        "e.rs": "use crate::{\n    d,\n    c::{self, W},\n};\n",
    }
    with tempfile.TemporaryDirectory() as src:
        for rel, text in files.items():
            path = os.path.join(src, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                fh.write(text)
        graph, _ = build_graph(src)
        expected = {"a": ["b", "c"], "b": ["a"], "c": ["d"], "d": [], "e": ["c", "d"]}
        assert graph == expected, graph
        assert cycles(graph) == [["a", "b", "a"]], cycles(graph)
        os.remove(os.path.join(src, "b", "inner.rs"))
        graph, _ = build_graph(src)
        assert cycles(graph) == [], cycles(graph)
    print("self-test passed")
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    if not argv or any(a.startswith("-") for a in argv):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    return max(check(src) for src in argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
