"""The collection's PowerShell, checked without PowerShell.

No ``pwsh`` can be installed here, so ``ansible-test sanity`` skips ``pslint`` and cannot read a
module's ``$spec`` (the Makefile excludes the ``.ps1`` modules from validate-modules). These tests
stand in, with tree-sitter-powershell:

* every ``.ps1``/``.psm1`` under ``plugins/`` parses without a syntax error;
* each PowerShell module's ``$spec`` and its docs stub (``<name>.py``) document the same options,
  except the controller-only ones its action plugin consumes (``CONTROLLER_ONLY_OPTIONS``);
* the hashtable literals that build the scan results have exactly the keys of the JSON contract
  (``plugins/module_utils/_scan/contract.py``), and code that adds keys later adds contract keys
  only; ``$module.Result`` gets only keys of the operation schemas;
* the worker script gets every function it calls, and the module utils export documented functions.

tree-sitter's grammar is a parser, not PowerShell: it proves syntax and structure, not behaviour.
"""

from __future__ import annotations

import ast
import importlib
import os
import re

import pytest
import yaml
from ansible_collections.patchwave.windows.plugins.module_utils._host import contract as workers_contract
from ansible_collections.patchwave.windows.plugins.module_utils._install import contract as install_contract
from ansible_collections.patchwave.windows.plugins.module_utils._scan import contract

from tests.psast import (
    PLUGINS,
    NotLiteral,
    Source,
    assigned_literal,
    assignments,
    commands,
    describe_error,
    functions,
    hash_entries,
    literal,
    member_target,
    named,
    plugin_files,
    unwrap,
    variable_name,
    walk,
)

MODULES = os.path.join(PLUGINS, "modules")
MODULE_UTILS = os.path.join(PLUGINS, "module_utils")

# Options a host module's docs stub documents that only its action plugin consumes on the
# controller: they are never sent to the host, so they are absent from the PowerShell $spec. This is
# the one place that says so; the stub and the $spec must differ by exactly these.
CONTROLLER_ONLY_OPTIONS = {
    "scan": {"force", "scan_ttl", "store", "spool", "poll_interval", "timeout", "reconnect_timeout"},
    "install": {"deployment", "optional", "category_names", "accept_list", "reject_list", "reboot", "reboot_timeout",
                "maintenance_windows", "max_run_time_minutes", "window_wait", "timeout", "scan_timeout",
                "poll_interval", "reconnect_timeout", "store", "spool"},
}

# Options whose documentation starts "Internal use only": the action plugin sets them for each
# round trip (install's batches and content, every _operation). The stub need not document their
# suboptions or that they are required (the action plugin always sends them); what it does document
# (type, elements, choices, defaults, documented suboptions) must match the $spec.
INTERNAL_MARK = "Internal use only"

# The JSON contract each PowerShell module's results follow (operation -> schema).
MODULE_CONTRACTS = {
    "scan": contract.RESULT_SCHEMAS,
    "install": install_contract.RESULT_SCHEMAS,
    "host_workers": {"list": workers_contract.RESULT_SCHEMA},
}

# PowerShell functions that build a record of the contract from one hashtable literal.
CONTRACT_BUILDERS = {
    "New-PatchwaveScanResult": contract.SCAN_SCHEMA,
    "ConvertTo-PatchwaveUpdateInfo": contract.UPDATE_SCHEMA,
    "ConvertTo-PatchwaveCategoryInfo": contract.UPDATE_SCHEMA["properties"]["categories"]["items"],
    "ConvertTo-PatchwaveSearchWarning": contract.SCAN_SCHEMA["properties"]["warnings"]["items"],
    "New-PatchwaveInstallResult": install_contract.INSTALL_SCHEMA,
    "New-PatchwaveInstallUpdateResult": install_contract.UPDATE_RESULT_SCHEMA,
}

WUA_UTIL = os.path.join(MODULE_UTILS, "_scan", "PatchwaveWua.psm1")
TASK_UTIL = os.path.join(MODULE_UTILS, "_host", "PatchwaveTask.psm1")
INSTALL_UTIL = os.path.join(MODULE_UTILS, "_install", "PatchwaveInstall.psm1")
# worker.ps1 starts in the runner's entry point, which calls the kind's (Get-PatchwaveWorkerCommand).
WORKER_ENTRIES = ("Invoke-PatchwaveWorker", "Invoke-PatchwaveScanWorker", "Invoke-PatchwaveInstallWorker")
# Each PowerShell module util and the top-level list of the functions it defines and copies into
# worker.ps1 (the install worker also gets WUA functions it names in $script:WuaWorkerFunctions:
# test_install_powershell.py checks that list).
WORKER_LISTS = {TASK_UTIL: "$script:TaskWorkerFunctions", WUA_UTIL: "$script:WorkerFunctions",
                INSTALL_UTIL: "$script:InstallWorkerFunctions"}

PS_FILES = plugin_files()
PS_MODULES = sorted(f for f in PS_FILES if os.path.dirname(f) == MODULES and f.endswith(".ps1"))

_SOURCES = {}


def source(path):
    if path not in _SOURCES:
        _SOURCES[path] = Source.load(path)
    return _SOURCES[path]


# ---------------------------------------------------------------- docs stubs


def _fragment_options(name):
    parts = name.split(".")
    if parts[:2] == ["patchwave", "windows"]:
        module = "ansible_collections.patchwave.windows.plugins.doc_fragments.%s" % parts[2]
        attribute = parts[3].upper() if len(parts) > 3 else "DOCUMENTATION"
    elif parts[:2] == ["ansible", "builtin"]:
        module = "ansible.plugins.doc_fragments.%s" % parts[2]
        attribute = parts[3].upper() if len(parts) > 3 else "DOCUMENTATION"
    else:
        raise AssertionError("doc fragment %s: only patchwave.windows and ansible.builtin are read" % name)
    fragment = getattr(importlib.import_module(module).ModuleDocFragment, attribute)
    return yaml.safe_load(fragment).get("options") or {}


def stub_documentation(path):
    """The DOCUMENTATION of a docs stub, with the options of its doc fragments merged in."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    texts = [ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
             and any(isinstance(t, ast.Name) and t.id == "DOCUMENTATION" for t in node.targets)]
    assert texts, "%s has no DOCUMENTATION" % path
    doc = yaml.safe_load(texts[0])
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        for name, option in _fragment_options(fragment).items():
            assert name not in options, "%s: option %s is also in fragment %s" % (path, name, fragment)
            options[name] = option
    doc["options"] = options
    return doc


def _as_list(value):
    if value is None:
        return None
    return list(value) if isinstance(value, (list, tuple)) else [value]


def normalize_spec(options):
    """Ansible.Basic option specs in a comparable form (its defaults made explicit)."""
    result = {}
    for name, spec in options.items():
        result[name] = {
            "type": spec.get("type", "str"),
            "required": bool(spec.get("required", False)),
            "default": spec.get("default"),
            "choices": _as_list(spec.get("choices")),
            "elements": spec.get("elements"),
            "aliases": sorted(_as_list(spec.get("aliases")) or []),
            "options": normalize_spec(spec["options"]) if spec.get("options") else None,
        }
    return result


def normalize_doc(options):
    """Documented options in the same form as normalize_spec."""
    result = {}
    for name, doc in options.items():
        result[name] = {
            "type": doc.get("type", "str"),
            "required": bool(doc.get("required", False)),
            "default": doc.get("default"),
            "choices": _as_list(doc.get("choices")),
            "elements": doc.get("elements"),
            "aliases": sorted(_as_list(doc.get("aliases")) or []),
            "options": normalize_doc(doc["suboptions"]) if doc.get("suboptions") else None,
        }
    return result


def module_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def internal_form(host, documented):
    """An internal option's $spec entry as far as its documentation goes (see INTERNAL_MARK)."""
    form = dict(host, required=documented["required"])
    if documented["options"] is None:
        form["options"] = None
    else:
        form["options"] = {name: internal_form(spec, documented["options"][name]) if name in documented["options"]
                           else spec for name, spec in (host["options"] or {}).items()}
    return form


# ---------------------------------------------------------------- syntax


def test_powershell_files_exist():
    assert os.path.join(MODULES, "scan.ps1") in PS_FILES and os.path.join(MODULES, "install.ps1") in PS_FILES
    assert WUA_UTIL in PS_FILES and TASK_UTIL in PS_FILES and INSTALL_UTIL in PS_FILES


@pytest.mark.parametrize("path", PS_FILES, ids=lambda p: os.path.relpath(p, PLUGINS))
def test_parses(path):
    src = source(path)
    problem = describe_error(src)
    assert problem is None, problem
    assert not src.tree.root_node.has_error


@pytest.mark.parametrize("snippet, line", [
    (b'Function Get-Broken {\n    if ($x -eq 1 {\n        "unclosed"\n    }\n}\n', 2),
    (b'$ok = 1\n$spec = @{\n    options = @{ a = @{ type = "str" }\n', 2),
    (b'Function Good {\n    "fine"\n}\n$sum = 1 +\n', 4),
])
def test_broken_snippet_is_detected(snippet, line):
    src = Source(snippet)
    assert src.tree.root_node.has_error
    problem = describe_error(src)
    assert problem is not None
    reported = int(problem.split(":")[1])
    assert reported <= line, problem


def test_literal_evaluation():
    src = Source(b"$spec = @{ a = 'it''s'; b = \"x\"; c = 0x10, 2; d = @(); e = , @('s', 'o', @('f'));"
                 b" 'f' = [Ordered]@{ g = $true; h = $null; i = -1 }; j = @(\n'k'\n'l'\n) }\n")
    assert assigned_literal(src, "$spec") == {
        "a": "it's", "b": "x", "c": [16, 2], "d": [], "e": [["s", "o", ["f"]]],
        "f": {"g": True, "h": None, "i": -1}, "j": ["k", "l"]}
    with pytest.raises(NotLiteral):
        literal(src, Source(b'$x = "$interpolated"').tree.root_node)


# ---------------------------------------------------------------- $spec against the docs stub


@pytest.mark.parametrize("path", PS_MODULES, ids=module_name)
def test_spec_matches_docs_stub(path):
    name = module_name(path)
    stub = os.path.join(MODULES, name + ".py")
    assert os.path.exists(stub), "%s has no docs stub %s" % (path, stub)

    spec = assigned_literal(source(path), "$spec")
    assert spec.get("supports_check_mode") is True
    host_options = normalize_spec(spec["options"])
    doc = stub_documentation(stub)
    documented = normalize_doc(doc["options"])

    controller_only = CONTROLLER_ONLY_OPTIONS.get(name, set())
    assert set(documented) - set(host_options) == controller_only, (
        "documented but not in $spec must be exactly the controller-only options")
    assert not set(host_options) - set(documented), "in $spec but not documented"
    for option in sorted(host_options):
        host = host_options[option]
        if INTERNAL_MARK in " ".join(_as_list(doc["options"][option]["description"])):
            host = internal_form(host, documented[option])
        assert host == documented[option], "option %s differs:\n$spec %s\ndocs  %s" % (
            option, host, documented[option])

    # Internal options are documented as such.
    for option in host_options:
        if option.startswith("_"):
            assert INTERNAL_MARK in " ".join(_as_list(doc["options"][option]["description"]))


def test_scan_spec_choices_follow_the_contract():
    options = assigned_literal(source(os.path.join(MODULES, "scan.ps1")), "$spec")["options"]
    assert options["_operation"]["choices"] == list(contract.OPERATIONS)
    assert options["server_selection"]["choices"] == list(contract.SERVER_SELECTIONS)


def test_controller_only_options_name_existing_stubs():
    for name in CONTROLLER_ONLY_OPTIONS:
        assert os.path.join(MODULES, name + ".ps1") in PS_MODULES


# ---------------------------------------------------------------- the JSON contract


def _all_functions():
    found = {}
    for path in PS_FILES:
        src = source(path)
        for name, node in functions(src).items():
            assert name not in found, "%s is defined twice" % name
            found[name] = (src, node)
    return found


def _outermost_hash_literals(node):
    found = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "hash_literal_expression":
            found.append(current)
            continue
        stack.extend(current.children)
    return found


@pytest.mark.parametrize("builder", sorted(CONTRACT_BUILDERS))
def test_builder_literal_has_the_contract_keys(builder):
    defined = _all_functions()
    assert builder in defined, "no PowerShell function %s" % builder
    src, node = defined[builder]
    literals = _outermost_hash_literals(node)
    assert len(literals) == 1, "%s should build its record from one hashtable literal" % builder
    keys = [key for key, _value in hash_entries(src, literals[0])]
    assert len(keys) == len(set(keys))
    schema = CONTRACT_BUILDERS[builder]
    assert set(keys) == set(schema["properties"]), (
        "%s builds %s; the contract has %s" % (builder, sorted(keys), sorted(schema["properties"])))
    assert set(schema.get("required", ())) <= set(keys)


def test_keys_added_later_are_contract_keys():
    """``$scan = New-PatchwaveScanResult ...`` then ``$scan.reslt_code = 4`` must fail here."""
    checked = 0
    for path in PS_FILES:
        src = source(path)
        scopes = list(functions(src).values()) or []
        scopes.append(src.tree.root_node)
        for scope in scopes:
            built = {}
            for left, right in assignments(src, scope):
                if right.type == "command" and variable_name(src, left):
                    called = src.text(named(right)[0])
                    if called in CONTRACT_BUILDERS:
                        built[variable_name(src, left)] = called
            for left, _right in assignments(src, scope):
                target = member_target(src, left)
                if target and target[0] in built:
                    properties = CONTRACT_BUILDERS[built[target[0]]]["properties"]
                    assert target[1] in properties, "%s: %s.%s is not in the contract (%s)" % (
                        src.name, target[0], target[1], built[target[0]])
                    checked += 1
    assert checked > 0, "no key assignment found: the check looks at nothing"


@pytest.mark.parametrize("name", sorted(MODULE_CONTRACTS))
def test_module_result_keys_follow_the_operation_schemas(name):
    src = source(os.path.join(MODULES, name + ".ps1"))
    keys = set()
    for left, _right in assignments(src, src.tree.root_node):
        if left.type == "member_access":
            inner = unwrap(named(left)[0])
            if inner.type == "member_access" and src.text(inner).lower() == "$module.result":
                keys.add(src.text(named(left)[-1]))
    schemas = MODULE_CONTRACTS[name]
    allowed = set().union(*(schema["properties"] for schema in schemas.values()))
    assert keys, "no $module.Result keys found"
    assert keys <= allowed, "result keys outside the contract: %s" % sorted(keys - allowed)
    required = set().union(*(schema["required"] for schema in schemas.values()))
    assert required <= keys, "contract keys never set: %s" % sorted(required - keys)


def test_update_builder_uses_the_category_builder():
    defined = _all_functions()
    src, node = defined["ConvertTo-PatchwaveUpdateInfo"]
    assert "ConvertTo-PatchwaveCategoryInfo" in commands(src, node)
    src, node = defined["Invoke-PatchwaveScan"]
    assert {"ConvertTo-PatchwaveUpdateInfo", "ConvertTo-PatchwaveSearchWarning",
            "New-PatchwaveScanResult"} <= commands(src, node)


# ---------------------------------------------------------------- modules and module utils


def _worker_lists():
    """{util path: [function names]} of the worker lists, and every function defined, by name."""
    lists = {path: assigned_literal(source(path), variable) for path, variable in WORKER_LISTS.items()}
    return lists, _all_functions()


def test_worker_script_gets_every_function_it_calls():
    lists, defined = _worker_lists()
    listed = [name for names in lists.values() for name in names]
    assert len(listed) == len(set(listed)), "a function is listed twice"
    for path, names in lists.items():
        local = functions(source(path))
        assert set(names) <= set(local), "%s lists functions it does not define: %s" % (
            os.path.basename(path), sorted(set(names) - set(local)))
    reached, todo = set(), list(WORKER_ENTRIES)
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        src, node = defined[name]
        todo.extend(c for c in commands(src, node) if c in defined)
    assert reached <= set(listed), "the worker calls functions worker.ps1 lacks: %s" % sorted(reached - set(listed))
    # The runner's list is what every kind of worker needs: it reaches nothing of the scan.
    runner = set(lists[TASK_UTIL])
    for name in runner:
        src, node = defined[name]
        assert {c for c in commands(src, node) if c in defined} <= runner, name


def test_worker_script_as_written_parses():
    """worker.ps1 is 'Function <name> {' + the function's ScriptBlock text + '}' for each listed
    function (Get-PatchwaveWorkerScript); rebuild it the same way and parse it."""
    lists, defined = _worker_lists()
    parts = ["$ErrorActionPreference = 'Stop'"]
    names = lists[TASK_UTIL] + lists[WUA_UTIL]
    for name in names:
        src, node = defined[name]
        braces = [c for c in node.children if c.type in ("{", "}")]
        body = src.data[braces[0].end_byte:braces[-1].start_byte].decode("utf-8")
        parts.append("Function %s {\n%s\n}" % (name, body))
    worker = Source("\n".join(parts).encode("utf-8"), "worker.ps1")
    assert describe_error(worker) is None, describe_error(worker)
    assert set(functions(worker)) == set(names)


def _bootstrap_lines():
    """The lines of the worker's bootstrap, as Get-PatchwaveWorkerCommand builds them, for a folder
    with a quote in its name."""
    src = source(TASK_UTIL)
    node = functions(src)["Get-PatchwaveWorkerCommand"]
    array = next(c for c in walk(node) if c.type == "array_expression")
    lines = []
    for item in named(next(c for c in named(array) if c.type == "statement_list")):
        text = src.text(item)
        if text.startswith("("):  # ('...{0}...' -f $value)
            template = literal(src, next(c for c in walk(item) if c.type == "string_literal"))
            value = {"$quoted": "C:\\Windows\\Temp\\patchwave-scan-o''brien", "$EntryPoint": "Invoke-PatchwaveScanWorker"}
            text = template.format(*[value[v] for v in re.findall(r"-f (\$\w+)", src.text(item))])
        else:
            text = literal(src, item)
        lines.append(text)
    return lines


def test_worker_bootstrap_parses_and_records_its_error():
    """§3.4: the bootstrap runs the worker in a try; its catch writes worker_error.txt with cmdlets only
    (Constrained Language Mode forbids .NET method calls) and exits 1, the task's LastTaskResult."""
    lines = _bootstrap_lines()
    bootstrap = Source("\n".join(lines), "bootstrap.ps1")
    assert describe_error(bootstrap) is None, describe_error(bootstrap)
    statements = named(named(bootstrap.tree.root_node)[0])
    tries = [n for n in walk(bootstrap.tree.root_node) if n.type == "try_statement"]
    assert len(tries) == 1 and tries[0].parent.parent is not None
    body, catch = named(tries[0])[0], next(n for n in walk(tries[0]) if n.type == "catch_clause")
    assert {"Invoke-PatchwaveWorker"} <= commands(bootstrap, body)
    assert "-EntryPoint 'Invoke-PatchwaveScanWorker'" in bootstrap.text(body)
    assert "$dir = 'C:\\Windows\\Temp\\patchwave-scan-o''brien'" in lines
    assert commands(bootstrap, catch) == {"Set-Content", "Join-Path"}
    assert "worker_error.txt" in bootstrap.text(catch) and "LanguageMode" in bootstrap.text(catch)
    assert not [n for n in walk(catch) if n.type == "invokation_expression"], "a method call in the catch"
    assert bootstrap.text(catch).rstrip("} \n").endswith("exit 1")
    assert len(statements) >= 3


def test_task_start_falls_back_to_system_on_any_failure():
    """§3.2: no HRESULT decides the fallback, 'has not run' is not a reason to keep waiting, and the
    S4U task is removed before SYSTEM runs it."""
    src = source(TASK_UTIL)
    node = functions(src)["Start-PatchwaveWorkTask"]
    text = src.text(node)
    assert "0x80070569" not in text and "LogonTypeNotGranted" not in text
    waiting = [src.text(right) for left, right in assignments(src, node) if variable_name(src, left) == "$waiting"]
    assert len(waiting) == 1 and "Test-PatchwaveTaskRunning -Task $task" in waiting[0]
    assert "0x00041303" not in waiting[0] and "HasNotRun" not in waiting[0], (
        "SCHED_S_TASK_HAS_NOT_RUN must not count as 'still starting'")
    loops = [n for n in walk(node) if n.type == "foreach_statement"]
    assert len(loops) == 1 and "$identities" in src.text(loops[0]).split("{")[0]
    body = src.text(loops[0])
    assert "continue" not in body, "a failure goes on to the next identity without a condition"
    assert body.index("Remove-PatchwaveWorkTask") > body.index("if (-not $failure)")
    assert "EnginePID" in body and "fallback_reason" in body


def test_hresult_from_com_exceptions_and_failed_method_calls_only():
    """§3.8: Get-PatchwaveErrorHResult reads COMException.ErrorCode, and Exception.HResult only inside a
    MethodInvocationException (E_ACCESSDENIED arrives as UnauthorizedAccessException, E_INVALIDARG as
    ArgumentException) and never for PowerShell's own RuntimeException."""
    src = source(TASK_UTIL)
    node = functions(src)["Get-PatchwaveErrorHResult"]
    text = src.text(node)
    members = {src.text(named(n)[-1]) for n in walk(node) if n.type == "member_access"}
    assert "ErrorCode" in members and "HResult" in members
    assert "[System.Runtime.InteropServices.COMException]" in text
    assert "[System.Management.Automation.MethodInvocationException]" in text
    assert "-isnot [System.Management.Automation.RuntimeException]" in text


def test_stale_removed_is_not_wrapped_again():
    """Remove-PatchwaveStaleWork writes its String[] as one object; @() around the call would nest it
    ([[...]]) and break the start answer's contract (stale_removed: a list of strings)."""
    for path in (os.path.join(MODULES, "scan.ps1"), os.path.join(MODULES, "install.ps1")):
        text = open(path, encoding="utf-8").read()
        assert "stale_removed = Remove-PatchwaveStaleWork" in text, path
        assert "@(Remove-PatchwaveStaleWork" not in text, path


def test_functions_that_create_com_objects_release_them():
    """§3.9: every function that creates a COM object releases what it created."""
    checked = 0
    for path in PS_FILES:
        src = source(path)
        for name, node in functions(src).items():
            created = [n for n in walk(node) if n.type == "command" and src.text(named(n)[0]) == "New-Object"
                       and "-ComObject" in src.text(n)]
            if not created:
                continue
            checked += 1
            assert "Remove-PatchwaveComObject" in commands(src, node), "%s creates COM objects and never releases them" % name
    assert checked >= 4


@pytest.mark.parametrize("path", [f for f in PS_FILES if f.endswith(".psm1")],
                         ids=os.path.basename)
def test_module_util_exports_documented_functions(path):
    src = source(path)
    defined = functions(src)
    exported = None
    for node in walk(src.tree.root_node):
        if node.type == "command" and src.text(named(node)[0]) == "Export-ModuleMember":
            arguments = [c for c in walk(node) if c.type == "array_expression"]
            exported = literal(src, arguments[0])
    assert exported is not None, "%s exports nothing explicitly" % src.name
    assert sorted(exported) == sorted(defined), "exported and defined functions differ"
    for name, node in defined.items():
        help_blocks = [c for c in walk(node) if c.type == "comment" and src.text(c).startswith("<#")
                       and ".SYNOPSIS" in src.text(c)]
        assert help_blocks, "%s has no comment-based help (.SYNOPSIS)" % name


def test_patchwave_commands_are_defined():
    defined = _all_functions()
    for path in PS_FILES:
        src = source(path)
        for name in commands(src, src.tree.root_node):
            if re.fullmatch(r"[A-Za-z]+-Patchwave\w*", name):
                assert name in defined, "%s calls %s, which is defined nowhere" % (src.name, name)


@pytest.mark.parametrize("path", PS_MODULES, ids=module_name)
def test_module_header_and_requires(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert text.startswith("#!powershell\n")
    assert "#AnsibleRequires -CSharpUtil Ansible.Basic" in text
    assert "[Ansible.Basic.AnsibleModule]::Create($args, $spec)" in text
    prefix = "ansible_collections.patchwave.windows.plugins.module_utils."
    for util in re.findall(r"^#AnsibleRequires -PowerShell (\S+)$", text, re.MULTILINE):
        assert util.startswith(prefix), util
        assert os.path.exists(os.path.join(MODULE_UTILS, *util[len(prefix):].split(".")) + ".psm1"), util


def _function_text(path, name):
    src = source(path)
    return src, functions(src)[name]


def test_started_worker_loses_its_task_and_is_known_by_pid_and_start_time():
    """§3.3: once the worker runs, its task is deleted without stopping it; launch.json (pid + process
    start time) and worker.json tell poll and the staleness rule whether it still runs."""
    src, node = _function_text(TASK_UTIL, "Start-PatchwaveWorker")
    text = src.text(node)
    steps = ("Start-PatchwaveWorkTask @taskParameters",
             "Write-PatchwaveLaunchRecord -WorkDirectory $WorkDirectory -ProcessId $started.pid",
             "Remove-PatchwaveWorkTask -TaskName $TaskName -KeepRunning")
    order = [text.index(step) for step in steps]
    assert order == sorted(order)
    src, node = _function_text(TASK_UTIL, "Remove-PatchwaveWorkTask")
    stops = [n for n in walk(node) if n.type == "if_statement" and "$task.Stop(0)" in src.text(n)]
    assert len(stops) == 1 and "-not $KeepRunning" in src.text(stops[0]).split("{")[0]
    src, node = _function_text(TASK_UTIL, "Get-PatchwaveWorkerProcess")
    text = src.text(node)
    assert "@('worker.json', 'launch.json')" in text and "Get-PatchwaveProcessRecord" in text and "process_started" in text
    src, node = _function_text(TASK_UTIL, "New-PatchwaveWorkDirectory")
    record = next(n for n in walk(node) if n.type == "hash_literal_expression" and "give_up" in src.text(n))
    assert [key for key, _value in hash_entries(src, record)] == ["kind", "work_id", "owner", "created", "give_up"]


def test_staleness_never_touches_a_live_worker_of_another_kind_or_owner():
    src, node = _function_text(TASK_UTIL, "Remove-PatchwaveStaleWork")
    text = src.text(node)
    assert "foreach ($work in (Get-PatchwaveWork))" in text
    assert "if ($work.state -ne 'abandoned')" in text  # one staleness rule: what the listing calls abandoned
    guard = text.index("if ($work.alive -and -not $mine)")
    assert "continue" in text[guard:guard + 120]
    # nothing is removed before the guard: the sweep removes through Stop-PatchwaveWorker, which
    # deletes the task, stops (and waits for) the process and removes the folder
    assert "Stop-Process" not in text[:guard] and "Remove-Item" not in text[:guard]
    assert guard < text.index("Stop-PatchwaveWorker")
    src, node = _function_text(TASK_UTIL, "Stop-PatchwaveWorker")
    stop = src.text(node)
    assert stop.index("Remove-PatchwaveWorkTask") < stop.index("Stop-Process") < stop.index("Wait-Process") \
        < stop.index("Remove-Item")
    assert "$mine = ($work.kind -eq $Kind) -and ($work.owner -eq $Owner)" in text
    # scan.ps1 sweeps before it creates its own folder, so its own scan is never a candidate
    with open(os.path.join(MODULES, "scan.ps1"), encoding="utf-8") as handle:
        module = handle.read()
    assert module.index("Remove-PatchwaveStaleWork -Kind 'scan'") < module.index("New-PatchwaveWorkDirectory @directoryParameters")


def test_in_process_worker_is_started_detached():
    """§3.5: under become the worker is started through WMI and start returns at once; it never runs
    inside the module's own process (unbounded by timeout, ended with the connection)."""
    src, node = _function_text(TASK_UTIL, "Start-PatchwaveWorker")
    called = commands(src, node)
    assert "Start-PatchwaveDetachedProcess" in called and "Invoke-PatchwaveWorker" not in called
    src, node = _function_text(TASK_UTIL, "Start-PatchwaveDetachedProcess")
    text = src.text(node)
    assert "Invoke-CimMethod -ClassName Win32_Process -MethodName Create" in text
    assert "$created.ReturnValue -ne 0" in text and "$created.ProcessId" in text


def test_empty_search_criteria_is_refused_before_anything_starts():
    """§3.9: '' would reach the worker's mandatory [String] parameter as a binding error; start says so
    first, before check mode returns and before any folder or task exists."""
    with open(os.path.join(MODULES, "scan.ps1"), encoding="utf-8") as handle:
        module = handle.read()
    check = module.index("[String]::IsNullOrWhiteSpace($module.Params.search_criteria)")
    assert "search_criteria is empty" in module[check:check + 300] and "FailJson" in module[check:check + 300]
    assert check < module.index("if ($module.CheckMode)") < module.index("New-PatchwaveWorkDirectory")


# ---------------------------------------------------------------- PatchwaveTask.psm1 review findings


def _functions_where(text_test):
    """Names of the functions of every PowerShell file whose text passes ``text_test``."""
    return sorted(name for name, (src, node) in _all_functions().items() if text_test(src.text(node)))


def test_a_quick_failing_worker_counts_as_started():
    """(a) worker_error.txt says the worker ran, as result.json does: the task wait loop stops on
    either, also when the task has just ended with a failure, so a worker that failed at once is
    reported by poll (with its error) and never started again as SYSTEM."""
    src, node = _function_text(TASK_UTIL, "Test-PatchwaveWorkerEnded")
    text = src.text(node)
    assert "'result.json'" in text and "'worker_error.txt'" in text and " -or" in text
    src, node = _function_text(TASK_UTIL, "Start-PatchwaveWorkTask")
    loop = next(n for n in walk(node) if n.type == "while_statement")
    body = src.text(loop)
    assert body.count("Test-PatchwaveWorkerEnded -WorkDirectory $WorkingDirectory") == 2
    not_waiting = body.index("if (-not $waiting)")
    assert body.index("Test-PatchwaveWorkerEnded", not_waiting) < body.index("$failure =", not_waiting), (
        "a worker that ended with its error must be seen before the task counts as failed")
    assert "ResultPath" not in src.text(node)


def test_worker_process_records_are_file_times_and_misreads_are_not_gone():
    """(b) the process start time is recorded as DateTime.ToFileTimeUtc (one definition, used by
    launch.json, worker.json and the comparison); a record that exists but cannot be read is skipped,
    never read as 'no worker', and only a missing file is."""
    assert _functions_where(lambda text: ".StartTime" in text) == ["Get-PatchwaveProcessRecord"]
    src, node = _function_text(TASK_UTIL, "Get-PatchwaveProcessRecord")
    assert "$Process.StartTime.ToFileTimeUtc()" in src.text(node)
    assert "Get-PatchwaveTimestamp" not in src.text(node)
    for name in ("Invoke-PatchwaveWorker", "Write-PatchwaveLaunchRecord", "Get-PatchwaveWorkerProcess"):
        src, node = _function_text(TASK_UTIL, name)
        assert "Get-PatchwaveProcessRecord -Process" in src.text(node), name
    src, node = _function_text(TASK_UTIL, "Get-PatchwaveWorkerProcess")
    catch = next(n for n in walk(node) if n.type == "catch_clause")
    text = src.text(catch)
    assert "[IO.FileNotFoundException]" in text and "[IO.DirectoryNotFoundException]" in text
    assert "return" not in text, "a misread record must not end the search with 'no worker'"
    assert "throw" in src.text(node)
    # callers that must not take an unreadable record for a gone worker
    src, node = _function_text(TASK_UTIL, "Test-PatchwaveWorkRunning")
    catch = next(n for n in walk(node) if n.type == "catch_clause")
    assert "return $true" in src.text(catch)


def test_only_task_not_found_means_no_task():
    """(c) Get-PatchwaveWorkTask answers $null only for ERROR_FILE_NOT_FOUND; other errors are thrown.
    The code is read from the exception's HResult: COM interop delivers 0x80070002 as a
    FileNotFoundException, not a COMException, so Get-PatchwaveErrorHResult (COMException only)
    would never see it and every missing task would be thrown."""
    assert assigned_literal(source(TASK_UTIL), "$script:TaskNotFound") == 0x80070002
    src, node = _function_text(TASK_UTIL, "Get-PatchwaveWorkTask")
    catch = next(n for n in walk(node) if n.type == "catch_clause")
    text = src.text(catch)
    assert "$cause = Get-PatchwaveInnerException -ErrorObject $_" in text
    assert "(ConvertTo-PatchwaveUInt32 -Value $cause.HResult) -ne $script:TaskNotFound" in text and "throw" in text
    assert "Get-PatchwaveErrorHResult" not in text and "COMException" not in text
    # callers that must go on when the Task Scheduler cannot be read catch it themselves
    src, node = _function_text(TASK_UTIL, "Test-PatchwaveWorkRunning")
    guarded = next(n for n in walk(node) if n.type == "try_statement" and "Get-PatchwaveWorkTask" in src.text(n))
    assert "return $true" in src.text(next(c for c in walk(guarded) if c.type == "catch_clause")), (
        "a task that cannot be read must count as running, never as gone")
    for name in ("Remove-PatchwaveWorkTask", "Get-PatchwaveWorkerFailure"):
        src, node = _function_text(TASK_UTIL, name)
        tries = [n for n in walk(node) if n.type == "try_statement" and "Get-PatchwaveWorkTask" in src.text(n)]
        assert tries and any(c.type == "catch_clause" for c in walk(tries[0])), name


def test_one_definition_each_for_connect_task_state_and_exception_chain():
    """(d) the Task Scheduler connect, the task-running test and the exception-chain walk exist once."""
    assert _functions_where(lambda text: "-ComObject Schedule.Service" in text) == ["Connect-PatchwaveTaskScheduler"]
    assert _functions_where(lambda text: ".Connect()" in text) == ["Connect-PatchwaveTaskScheduler"]
    assert _functions_where(lambda text: re.search(r"\.State -in @\(2, 4\)", text)) == ["Test-PatchwaveTaskRunning"]
    assert _functions_where(lambda text: ".InnerException" in text) == ["Get-PatchwaveInnerException"]
    for name in ("Get-PatchwaveErrorHResult", "Format-PatchwaveError"):
        src, node = _function_text(TASK_UTIL, name)
        assert "Get-PatchwaveInnerException -ErrorObject" in src.text(node), name
    assert _functions_where(lambda text: "Test-PatchwaveTaskRunning -Task" in text) == [
        "Start-PatchwaveWorkTask", "Test-PatchwaveWorkRunning"]
    assert _functions_where(lambda text: "Test-PatchwaveWorkRunning -WorkDirectory" in text) == [
        "Get-PatchwaveWork", "Get-PatchwaveWorkState"]


def test_become_worker_is_stopped_when_its_launch_record_fails():
    """(e) an in-process worker whose launch.json cannot be written is stopped, then the error is thrown."""
    src, node = _function_text(TASK_UTIL, "Start-PatchwaveWorker")
    branch = next(n for n in walk(node) if n.type == "if_statement" and src.text(n).startswith("if ($InProcess)"))
    tries = [n for n in walk(branch) if n.type == "try_statement"]
    assert len(tries) == 1 and "Write-PatchwaveLaunchRecord" in src.text(named(tries[0])[0])
    catch = src.text(next(n for n in walk(tries[0]) if n.type == "catch_clause"))
    assert "Stop-Process -Id $processId" in catch and catch.rstrip("} \n").endswith("throw")
    assert src.text(branch).index("Start-PatchwaveDetachedProcess") < src.text(branch).index("try")
