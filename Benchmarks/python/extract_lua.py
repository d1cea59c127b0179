"""Prints the rate-limit Lua script of a fastapi-limiter distribution, taken from its source
(FastAPILimiter.lua_script in fastapi_limiter/__init__.py) without importing it.
Usage: python extract_lua.py WHEEL_OR_DIRECTORY"""
import ast
import pathlib
import sys
import zipfile

source_path = pathlib.Path(sys.argv[1])
if source_path.is_file():
    with zipfile.ZipFile(source_path) as wheel:
        source = wheel.read("fastapi_limiter/__init__.py").decode()
else:
    source = (source_path / "fastapi_limiter" / "__init__.py").read_text()
for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.ClassDef) and node.name == "FastAPILimiter":
        for statement in node.body:
            target = getattr(statement, "target", None) or (getattr(statement, "targets", None) or [None])[0]
            if isinstance(target, ast.Name) and target.id == "lua_script":
                sys.stdout.write(ast.literal_eval(statement.value))
                sys.exit(0)
sys.exit("no FastAPILimiter.lua_script in " + str(source_path))
