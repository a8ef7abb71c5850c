"""Static checks of the collection's PowerShell over the tree-sitter AST (no PowerShell needed).

Each check takes parsed sources (:class:`tests.psast.Source`) and returns :class:`Finding` items;
``run_checks`` runs them all. The checks and the defects they stand for:

* ``null_string_argument``: ``$null`` passed to a .NET static method where the parameter is a
  string. PowerShell converts ``$null`` to ``""`` for a ``string`` parameter, so
  ``[IO.File]::Replace($a, $b, $null)`` throws instead of skipping the backup; use
  ``[NullString]::Value``. Methods whose parameters are known are in ``STATIC_METHOD_PARAMETERS``;
  ``$null`` to any other static method is reported until the method is described there.
* ``scope_in_worker``: ``$script:``/``$global:`` read inside a function the scheduled-task worker
  copies by text (a ``*WorkerFunctions`` list): in worker.ps1 those variables do not exist.
* ``signed_hex``: a hexadecimal literal of 8 digits at or above ``0x80000000`` is a negative Int32
  in Windows PowerShell 5.1 (``0x80070005 -eq 2147942405`` is false); write it unsigned
  (``[Convert]::ToUInt32('80070005', 16)``, a decimal) or say ``[Int32]0x...`` when the signed value
  is meant.
* ``com_members``: members used on WUA and Task Scheduler COM objects are members Microsoft
  documents for their interfaces (``COM_INTERFACES``), and the values assigned to
  ``ServerSelection``, ``LogonType``, ``RunLevel`` and ``MultipleInstances`` are documented values
  (``ENUM_PROPERTIES``). Types are followed from ``New-Object -ComObject``, through documented
  return types, ``foreach`` over collections, parameters whose help names the interface, and
  functions whose ``.OUTPUTS`` names it.
* ``powershell7``: syntax and commands that only PowerShell 7 has (the hosts run Windows
  PowerShell 5.1).
* ``convertto_json``: every ``ConvertTo-Json`` has ``-InputObject`` (a pipeline unrolls a
  one-element list into a scalar) and ``-Depth`` (the default 2 silently flattens deeper data).
* ``read_before_assignment``: a variable read in a function (or a script's top level) before any
  assignment to it there.
* ``parameter_case``: an assignment in a function to a variable spelled like one of its
  parameters in another case (``$owner = ...`` beside ``param ($Owner)``): PowerShell names ignore
  case, so it overwrites the parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.psast import (
    NotLiteral,
    Source,
    command_name,
    command_parameters,
    function_name,
    functions,
    hash_entries,
    help_sections,
    help_text,
    literal,
    named,
    plugin_files,
    unwrap,
    walk,
)


@dataclass(frozen=True)
class Finding:
    check: str
    where: str
    message: str

    def __str__(self):
        return "%s: [%s] %s" % (self.where, self.check, self.message)


def load_sources(paths=None):
    """Parsed sources of ``paths`` (default: every .ps1/.psm1 under plugins/)."""
    return [Source.load(path) for path in (paths if paths is not None else plugin_files())]


# ---------------------------------------------------------------- shared helpers


def _variable_text(src, node):
    """``$name`` / ``${name}`` of a variable node, as written, lower case, braces removed."""
    text = src.text(node).lower()
    if text.startswith("@"):  # splatting reads the variable
        text = "$" + text[1:]
    if text.startswith("${") and text.endswith("}"):
        text = "$" + text[2:-1]
    return text


def _is_static_call(src, node):
    """(type name, method name, argument nodes) for ``[Type]::Method(...)``, else None."""
    if node.type != "invokation_expression":
        return None
    parts = node.children
    if len(parts) < 4 or parts[0].type != "type_literal" or parts[1].type != "::":
        return None
    member = next((c for c in parts if c.type == "member_name"), None)
    arguments = next((c for c in parts if c.type == "argument_list"), None)
    if member is None or arguments is None:
        return None
    type_name = src.text(parts[0]).strip("[]").lower()
    if type_name.startswith("system."):
        type_name = type_name[len("system."):]
    listed = next((c for c in named(arguments) if c.type == "argument_expression_list"), None)
    args = list(named(listed)) if listed is not None else []
    return type_name, src.text(member).lower(), args


def _is_null(src, node):
    node = unwrap(node)
    return node.type == "variable" and src.text(node).lower() == "$null"


def _scopes(src):
    """(scope node, function node or None): the script's top level and every function."""
    yield src.tree.root_node, None
    for node in functions(src).values():
        yield node, node


def _in_scope(scope):
    """The nodes below ``scope`` that belong to it (nested functions left out)."""
    stack = [scope]
    while stack:
        current = stack.pop()
        yield current
        for child in reversed(current.children):
            if child.type == "function_statement" and child is not scope:
                continue
            stack.append(child)


# ---------------------------------------------------------------- 1. $null to a string parameter

# (type, method) -> for each overload's parameter count, the positions that are strings.
# From Microsoft's .NET API reference (System.IO.File, Path, Directory, String, Convert, Guid,
# Environment, Marshal). A position missing from an overload's set is not a string parameter.
STATIC_METHOD_PARAMETERS = {
    ("io.file", "replace"): {3: {0, 1, 2}, 4: {0, 1, 2}},
    ("io.file", "move"): {2: {0, 1}, 3: {0, 1}},
    ("io.file", "copy"): {2: {0, 1}, 3: {0, 1}},
    ("io.file", "delete"): {1: {0}},
    ("io.file", "exists"): {1: {0}},
    ("io.file", "readalltext"): {1: {0}, 2: {0}},
    ("io.file", "writealltext"): {2: {0, 1}, 3: {0, 1}},
    ("io.directory", "exists"): {1: {0}},
    ("io.directory", "createdirectory"): {1: {0}, 2: {0}},
    ("io.directory", "delete"): {1: {0}, 2: {0}},
    ("io.path", "combine"): {2: {0, 1}, 3: {0, 1, 2}, 4: {0, 1, 2, 3}},
    ("io.path", "getfilename"): {1: {0}},
    ("io.path", "getdirectoryname"): {1: {0}},
    ("string", "isnullorempty"): {1: set()},  # null is what it tests for
    ("string", "join"): {2: {0}},
    ("convert", "touint32"): {2: {0}},
    ("convert", "tobase64string"): {1: set()},
    ("guid", "tryparse"): {2: {0}},
    ("guid", "newguid"): {0: set()},
    ("environment", "expandenvironmentvariables"): {1: {0}},
    ("runtime.interopservices.marshal", "releasecomobject"): {1: set()},
    ("runtime.interopservices.marshal", "finalreleasecomobject"): {1: set()},
}


def check_null_string_argument(sources):
    findings = []
    for src in sources:
        for node in walk(src.tree.root_node):
            call = _is_static_call(src, node)
            if call is None:
                continue
            type_name, method, args = call
            nulls = [i for i, arg in enumerate(args) if _is_null(src, arg)]
            if not nulls:
                continue
            overloads = STATIC_METHOD_PARAMETERS.get((type_name, method))
            for position in nulls:
                if overloads is None:
                    findings.append(Finding("null_string_argument", src.where(node), (
                        "$null passed to [%s]::%s (argument %d), whose parameters this check does not know: "
                        "PowerShell passes $null to a string parameter as ''; use [NullString]::Value for a "
                        "string, or describe the method in STATIC_METHOD_PARAMETERS") % (type_name, method, position + 1)))
                elif position in overloads.get(len(args), set(range(len(args)))):
                    findings.append(Finding("null_string_argument", src.where(node), (
                        "$null passed to the string parameter %d of [%s]::%s arrives as '' (use [NullString]::Value)"
                        % (position + 1, type_name, method))))
    return findings


# ---------------------------------------------------------------- 2. script/global scope in the worker


def worker_function_names(src):
    """Names in the source's top-level ``$script:*WorkerFunctions`` literal lists."""
    names = set()
    for node in src.tree.root_node.children:
        for current in walk(node):
            if current.type != "assignment_expression":
                continue
            left = unwrap(named(current)[0])
            if left.type == "variable" and _variable_text(src, left).endswith("workerfunctions"):
                try:
                    names.update(literal(src, named(current)[-1]))
                except NotLiteral:
                    pass
    return names


def _assignment_target(node):
    """The variable node an assignment writes when ``node`` is that variable, else None."""
    current = node
    stops = ("left_assignment_expression", "assignment_expression")
    while current.parent is not None and current.parent.type not in stops:
        if len(named(current.parent)) != 1:
            return None
        current = current.parent
    return node if current.parent is not None and current.parent.type == "left_assignment_expression" else None


def check_scope_in_worker(sources):
    """Worker lists may name functions of other files (the runner's helpers), so all lists apply to all files."""
    findings = []
    copied = set().union(*(worker_function_names(src) for src in sources)) if sources else set()
    for src in sources:
        defined = functions(src)
        for name in sorted(copied & set(defined)):
            for node in walk(defined[name]):
                if node.type != "variable":
                    continue
                text = _variable_text(src, node)
                if text.startswith(("$script:", "$global:")) and _assignment_target(node) is None:
                    findings.append(Finding("scope_in_worker", src.where(node), (
                        "%s reads %s, but worker.ps1 gets only the function's text: the variable does not "
                        "exist there (pass it as a parameter)") % (name, src.text(node))))
    return findings


# ---------------------------------------------------------------- 3. hex literals that turn negative


def _cast_to_int32(src, literal_node):
    """True for ``[Int32]0x...`` / ``[int]0x...``."""
    current = literal_node
    for _level in range(4):
        current = current.parent
        if current is None:
            return False
        parts = named(current)
        if parts and parts[0].type == "type_literal" and src.text(current).replace(" ", "").endswith(
                src.text(literal_node)) and src.text(parts[0]).strip("[]").lower() in ("int32", "int", "system.int32"):
            return True
    return False


def check_signed_hex(sources):
    findings = []
    for src in sources:
        for node in walk(src.tree.root_node):
            if node.type != "hexadecimal_integer_literal":
                continue
            text = src.text(node)
            digits = re.fullmatch(r"0[xX]([0-9a-fA-F]+)", text)
            if not digits or len(digits.group(1).lstrip("0")) != 8 or int(digits.group(1), 16) < 0x80000000:
                continue  # a suffix (L, u...) or a value below 0x80000000
            if _cast_to_int32(src, node):
                continue  # [Int32]0x80070005: the signed value is what is meant, and said
            findings.append(Finding("signed_hex", src.where(node), (
                "%s is %d (a negative Int32) in Windows PowerShell 5.1, not %d: compare with an unsigned value "
                "([Convert]::ToUInt32('%s', 16)) or write [Int32]%s when the signed one is meant")
                % (text, int(text, 16) - (1 << 32), int(text, 16), digits.group(1), text)))
    return findings


# ---------------------------------------------------------------- 4. COM members and enum values


def _interface(members, typed=None, element=None, inherits=()):
    return {"members": {m.lower() for m in members} | {m.lower() for m in (typed or {})},
            "typed": {k.lower(): v for k, v in (typed or {}).items()}, "element": element, "inherits": inherits}


_STRINGS = "IStringCollection"
_COLLECTION = ("Count", "Item", "ReadOnly", "Add", "Clear", "Copy", "Insert", "RemoveAt")

# Members as Microsoft documents them (Windows Update Agent API, wuapi.h; Task Scheduler 2.0,
# taskschd.h). "typed" members give the interface they return; "element" is what foreach yields.
COM_INTERFACES = {
    # Windows Update Agent
    "IUpdateSession": _interface(
        ["ClientApplicationID", "ReadOnly", "WebProxy", "UserLocale"],
        {"CreateUpdateSearcher": "IUpdateSearcher", "CreateUpdateDownloader": "IUpdateDownloader",
         "CreateUpdateInstaller": "IUpdateInstaller", "CreateUpdateServiceManager": "IUpdateServiceManager",
         "QueryHistory": "IUpdateHistoryEntryCollection"}),
    "IUpdateSearcher": _interface(
        ["BeginSearch", "EscapeString", "GetTotalHistoryCount", "CanAutomaticallyUpgradeService",
         "ClientApplicationID", "IncludePotentiallySupersededUpdates", "Online", "ServerSelection", "ServiceID",
         "IgnoreDownloadPriority", "SearchScope"],
        {"Search": "ISearchResult", "EndSearch": "ISearchResult", "QueryHistory": "IUpdateHistoryEntryCollection"}),
    "ISearchResult": _interface(
        ["ResultCode"],
        {"RootCategories": "ICategoryCollection", "Updates": "IUpdateCollection",
         "Warnings": "IUpdateExceptionCollection"}),
    "IUpdateCollection": _interface(_COLLECTION, {"Item": "IUpdate"}, element="IUpdate"),
    "IUpdate": _interface(
        ["AutoSelectOnWebSites", "CanRequireSource", "Deadline", "DeltaCompressedContentAvailable",
         "DeltaCompressedContentPreferred", "Description", "EulaAccepted", "EulaText", "HandlerID", "Image",
         "IsBeta", "IsDownloaded", "IsHidden", "IsInstalled", "IsMandatory", "IsUninstallable",
         "LastDeploymentChangeTime", "MaxDownloadSize", "MinDownloadSize", "MsrcSeverity", "RecommendedCpuSpeed",
         "RecommendedHardDiskSpace", "RecommendedMemory", "ReleaseNotes", "SupportUrl", "Title", "Type",
         "UninstallationNotes", "DownloadContents", "DownloadPriority", "DeploymentAction", "AcceptEula",
         "CopyFromCache",
         # IUpdate2..IUpdate5
         "RebootRequired", "IsPresent", "CopyToCache", "BrowseOnly", "PerUser", "AutoSelection", "AutoDownload"],
        {"BundledUpdates": "IUpdateCollection", "Categories": "ICategoryCollection", "Identity": "IUpdateIdentity",
         "InstallationBehavior": "IInstallationBehavior", "UninstallationBehavior": "IInstallationBehavior",
         "KBArticleIDs": _STRINGS, "Languages": _STRINGS, "MoreInfoUrls": _STRINGS, "SecurityBulletinIDs": _STRINGS,
         "SupersededUpdateIDs": _STRINGS, "UninstallationSteps": _STRINGS, "CveIDs": _STRINGS}),
    "IUpdateIdentity": _interface(["RevisionNumber", "UpdateID"]),
    "IInstallationBehavior": _interface(["CanRequestUserInput", "Impact", "RebootBehavior",
                                         "RequiresNetworkConnectivity"]),
    "ICategoryCollection": _interface(["Count"], {"Item": "ICategory"}, element="ICategory"),
    "ICategory": _interface(["CategoryID", "Description", "Image", "Name", "Order", "Type"],
                            {"Children": "ICategoryCollection", "Parent": "ICategory", "Updates": "IUpdateCollection"}),
    "IUpdateExceptionCollection": _interface(["Count"], {"Item": "IUpdateException"}, element="IUpdateException"),
    "IUpdateException": _interface(["Message", "HResult", "Context"]),
    "IStringCollection": _interface(_COLLECTION),
    "IUpdateHistoryEntryCollection": _interface(["Count", "Item"]),
    "IUpdateInstaller": _interface(
        ["AllowSourcePrompts", "ClientApplicationID", "IsBusy", "IsForced", "ParentHwnd", "ParentWindow",
         "RebootRequiredBeforeInstallation", "BeginInstall", "BeginUninstall", "RunWizard", "ForceQuiet",
         "AttemptCloseAppsIfNecessary", "Commit"],
        {"Updates": "IUpdateCollection", "Install": "IInstallationResult", "Uninstall": "IInstallationResult",
         "EndInstall": "IInstallationResult", "EndUninstall": "IInstallationResult"}),
    # IInstallationResult (nn-wuapi-iinstallationresult): GetUpdateResult(updateIndex) returns the
    # IUpdateInstallationResult of the update at that index of IUpdateInstaller.Updates
    # (nf-wuapi-iinstallationresult-getupdateresult); WUA collections are 0-based (IUpdateCollection.Item).
    "IInstallationResult": _interface(["HResult", "RebootRequired", "ResultCode"],
                                      {"GetUpdateResult": "IUpdateInstallationResult"}),
    # IUpdateInstallationResult (nn-wuapi-iupdateinstallationresult): HResult is a LONG (signed: the
    # install contract carries it unsigned), RebootRequired, ResultCode (OperationResultCode).
    "IUpdateInstallationResult": _interface(["HResult", "RebootRequired", "ResultCode"]),
    "IUpdateDownloader": _interface(
        ["ClientApplicationID", "IsForced", "Priority", "BeginDownload"],
        {"Updates": "IUpdateCollection", "Download": "IDownloadResult", "EndDownload": "IDownloadResult"}),
    # IDownloadResult (nn-wuapi-idownloadresult): GetUpdateResult(updateIndex) returns an
    # IUpdateDownloadResult (nf-wuapi-idownloadresult-getupdateresult).
    "IDownloadResult": _interface(["HResult", "ResultCode"], {"GetUpdateResult": "IUpdateDownloadResult"}),
    # IUpdateDownloadResult (nn-wuapi-iupdatedownloadresult): HResult (LONG), ResultCode; no RebootRequired.
    "IUpdateDownloadResult": _interface(["HResult", "ResultCode"]),
    "IUpdateServiceManager": _interface(
        ["ClientApplicationID", "Services", "AddService", "RegisterServiceWithAU", "RemoveService",
         "UnregisterServiceWithAU", "AddService2", "QueryServiceRegistration", "SetOption"],
        {"AddScanPackageService": "IUpdateService"}),
    "IUpdateService": _interface(
        ["CanRegisterWithAU", "ContentValidationCert", "ExpirationDate", "IsManaged", "IsRegisteredWithAU",
         "IsScanPackageService", "IssueDate", "Name", "OffersWindowsUpdates", "RedirectUrls", "ServiceID",
         "ServiceUrl", "SetupPrefix", "IsDefaultAUService"]),
    "ISystemInformation": _interface(["OemHardwareSupportLink", "RebootRequired"]),
    # Task Scheduler 2.0
    "ITaskService": _interface(
        ["Connect", "Connected", "ConnectedDomain", "ConnectedUser", "HighestVersion", "TargetServer"],
        {"GetFolder": "ITaskFolder", "GetRunningTasks": "IRunningTaskCollection", "NewTask": "ITaskDefinition"}),
    "ITaskFolder": _interface(
        ["Name", "Path", "CreateFolder", "DeleteFolder", "DeleteTask", "GetFolders", "GetSecurityDescriptor",
         "GetTasks", "SetSecurityDescriptor"],
        {"GetFolder": "ITaskFolder", "GetTask": "IRegisteredTask", "RegisterTask": "IRegisteredTask",
         "RegisterTaskDefinition": "IRegisteredTask"}),
    "ITaskDefinition": _interface(
        ["Data", "Triggers", "XmlText"],
        {"Actions": "IActionCollection", "Principal": "IPrincipal", "RegistrationInfo": "IRegistrationInfo",
         "Settings": "ITaskSettings"}),
    "IRegistrationInfo": _interface(["Author", "Date", "Description", "Documentation", "SecurityDescriptor",
                                     "Source", "URI", "Version", "XmlText"]),
    "ITaskSettings": _interface(
        ["AllowDemandStart", "AllowHardTerminate", "Compatibility", "DeleteExpiredTaskAfter",
         "DisallowStartIfOnBatteries", "Enabled", "ExecutionTimeLimit", "Hidden", "IdleSettings",
         "MultipleInstances", "NetworkSettings", "Priority", "RestartCount", "RestartInterval", "RunOnlyIfIdle",
         "RunOnlyIfNetworkAvailable", "StartWhenAvailable", "StopIfGoingOnBatteries", "WakeToRun", "XmlText",
         "DisallowStartOnRemoteAppSession", "UseUnifiedSchedulingEngine", "MaintenanceSettings", "Volatile",
         "CreateMaintenanceSettings"]),
    "IActionCollection": _interface(["Count", "Item", "XmlText", "Context", "Clear", "Remove"],
                                    {"Create": "IExecAction"}),
    "IExecAction": _interface(["Id", "Type", "Arguments", "Path", "WorkingDirectory"]),
    "IPrincipal": _interface(["DisplayName", "GroupId", "Id", "LogonType", "RunLevel", "UserId",
                              "ProcessTokenSidType", "RequiredPrivilegeCount", "RequiredPrivilege",
                              "AddRequiredPrivilege"]),
    "IRegisteredTask": _interface(
        ["Enabled", "LastRunTime", "LastTaskResult", "Name", "NextRunTime", "NumberOfMissedRuns", "Path", "State",
         "Xml", "GetRunTimes", "GetSecurityDescriptor", "SetSecurityDescriptor", "Stop"],
        {"Definition": "ITaskDefinition", "GetInstances": "IRunningTaskCollection", "Run": "IRunningTask",
         "RunEx": "IRunningTask"}),
    "IRunningTask": _interface(["CurrentAction", "EnginePID", "InstanceGuid", "Name", "Path", "State", "Refresh",
                                "Stop"]),
    "IRunningTaskCollection": _interface(["Count"], {"Item": "IRunningTask"}, element="IRunningTask"),
}

# New-Object -ComObject <ProgID> -> the interface it gives.
PROGIDS = {
    "microsoft.update.session": "IUpdateSession",
    "microsoft.update.searcher": "IUpdateSearcher",
    "microsoft.update.servicemanager": "IUpdateServiceManager",
    "microsoft.update.systeminfo": "ISystemInformation",
    "microsoft.update.updatecoll": "IUpdateCollection",
    "microsoft.update.stringcoll": "IStringCollection",
    "microsoft.update.installer": "IUpdateInstaller",
    "microsoft.update.downloader": "IUpdateDownloader",
    "schedule.service": "ITaskService",
}

# Enum properties and their documented values: ServerSelection (ssDefault 0, ssManagedServer 1,
# ssWindowsUpdate 2, ssOthers 3), TASK_LOGON_TYPE (0 none .. 6 interactive token or password),
# TASK_RUNLEVEL_TYPE (0 LUA, 1 highest), TASK_INSTANCES_POLICY (0 parallel .. 3 stop existing).
ENUM_PROPERTIES = {
    "serverselection": {0, 1, 2, 3},
    "logontype": {0, 1, 2, 3, 4, 5, 6},
    "runlevel": {0, 1},
    "multipleinstances": {0, 1, 2, 3},
}


def _named_interface(text):
    """The longest known interface name that appears as a word in ``text``, or None."""
    found = [name for name in COM_INTERFACES if re.search(r"\b%s\b" % name, text)]
    return max(found, key=len) if found else None


class _ComTypes:
    """Which COM interface each variable of a scope holds, followed in document order."""

    def __init__(self, src, function_outputs):
        self.src = src
        self.outputs = function_outputs
        self.checked = 0

    def type_of(self, node, env):
        src = self.src
        while node.type != "command" and len(named(node)) == 1:
            node = named(node)[0]
        kind = node.type
        if kind == "parenthesized_expression" or kind == "sub_expression":
            inner = named(node)
            return self.type_of(inner[0], env) if len(inner) == 1 else None
        if kind == "variable":
            return env.get(_variable_text(src, node))
        if kind == "command":
            name = (command_name(src, node) or "").lower()
            if name == "new-object":
                parameters = command_parameters(src, node)
                if "comobject" in parameters:
                    words = [c for c in walk(node) if c.type in ("generic_token", "string_literal")]
                    for word in words:
                        progid = src.text(word).strip("'\"").lower()
                        if progid in PROGIDS:
                            return PROGIDS[progid]
                return None
            return self.outputs.get(name)
        if kind in ("member_access", "invokation_expression"):
            parts = node.children
            member = next((c for c in parts if c.type == "member_name"), None)
            if member is None or parts[0].type == "type_literal":
                return None
            owner = self.type_of(parts[0], env)
            if owner is None:
                return None
            return COM_INTERFACES[owner]["typed"].get(src.text(member).lower())
        return None

    def element_type(self, node, env):
        owner = self.type_of(node, env)
        return COM_INTERFACES[owner]["element"] if owner else None


def _function_outputs(sources):
    """{function name (lower): interface} for functions whose help's .OUTPUTS names one."""
    outputs = {}
    for src in sources:
        for name, node in functions(src).items():
            sections = help_sections(help_text(src, node))
            interface = _named_interface(sections.get(("outputs", ""), ""))
            if interface:
                outputs[name.lower()] = interface
    return outputs


def _parameter_types(src, function_node):
    """{$param: interface} from the help's .PARAMETER texts that name an interface."""
    types = {}
    for (keyword, argument), text in help_sections(help_text(src, function_node)).items():
        if keyword == "parameter" and argument:
            interface = _named_interface(text)
            if interface:
                types["$" + argument] = interface
    return types


def _com_scope_walk(src, scope, env, types, on_member):
    """Visit ``scope`` in document order, keeping ``env`` (variable -> interface) current."""

    def visit(node):
        if node.type == "function_statement" and node is not scope:
            return
        if node.type == "assignment_expression":
            parts = named(node)
            visit(parts[-1])
            left = unwrap(parts[0])
            if left.type == "variable":
                name = _variable_text(src, left)
                found = types.type_of(parts[-1], env)
                if found:
                    env[name] = found
                else:
                    env.pop(name, None)
            else:
                visit(parts[0])
            return
        if node.type == "foreach_statement":
            variable = next(c for c in node.children if c.type == "variable")
            collection = [c for c in named(node) if c is not variable and c.type != "statement_block"][0]
            visit(collection)
            element = types.element_type(collection, env)
            if element:
                env[_variable_text(src, variable)] = element
            for child in node.children:
                if child.type == "statement_block":
                    visit(child)
            return
        if node.type in ("member_access", "invokation_expression"):
            on_member(node, env)
        for child in node.children:
            visit(child)

    visit(scope)


def _enum_values(src, node, scope):
    """The set of integer values ``node`` can take, or None when it cannot be told statically."""
    node = unwrap(node)
    try:
        value = literal(src, node)
        return {value} if isinstance(value, int) and not isinstance(value, bool) else None
    except NotLiteral:
        pass
    if node.type == "element_access":
        target = unwrap(named(node)[0])
        table = _assigned_hash(src, target, scope)
        if table is not None:
            values = set()
            for _key, value_node in hash_entries(src, table):
                found = _enum_values(src, value_node, scope)
                if found is None:
                    return None
                values |= found
            return values
        return None
    if node.type == "member_access":
        target, member = unwrap(named(node)[0]), src.text(named(node)[-1]).lower()
        if target.type == "variable":
            items = _foreach_items(src, target, scope)
            if items:
                values = set()
                for item in items:
                    entry = dict((k.lower(), v) for k, v in hash_entries(src, item)).get(member)
                    found = _enum_values(src, entry, scope) if entry is not None else None
                    if found is None:
                        return None
                    values |= found
                return values
    if node.type == "variable":
        name = _variable_text(src, node)
        values = set()
        assigned = [right for left, right in _scope_assignments(src, scope) if left == name]
        for right in assigned:
            found = _enum_values(src, right, scope)
            if found is None:
                return None
            values |= found
        return values or None
    return None


def _scope_assignments(src, scope):
    for node in _in_scope(scope):
        if node.type == "assignment_expression":
            parts = named(node)
            left = unwrap(parts[0])
            if left.type == "variable":
                yield _variable_text(src, left), parts[-1]


def _assigned_hash(src, variable, scope):
    """The hashtable literal a variable is assigned (once) in the scope, or None."""
    if variable.type != "variable":
        return None
    rights = [unwrap(right) for left, right in _scope_assignments(src, scope) if left == _variable_text(src, variable)]
    if len(rights) == 1 and rights[0].type == "hash_literal_expression":
        return rights[0]
    return None


def _foreach_items(src, variable, scope):
    """The hashtable literals a foreach variable iterates over (a literal array of them), or None."""
    name = _variable_text(src, variable)
    for node in _in_scope(scope):
        if node.type != "foreach_statement":
            continue
        loop_variable = next(c for c in node.children if c.type == "variable")
        if _variable_text(src, loop_variable) != name:
            continue
        collection = unwrap([c for c in named(node) if c is not loop_variable and c.type != "statement_block"][0])
        if collection.type == "variable":
            rights = [unwrap(r) for left, r in _scope_assignments(src, scope) if left == _variable_text(src, collection)]
            if len(rights) == 1:
                collection = rights[0]
        items = [unwrap(c) for c in walk(collection) if c.type == "hash_literal_expression"]
        outermost = [i for i in items if not any(o is not i and o.start_byte <= i.start_byte and i.end_byte <= o.end_byte
                                                 for o in items)]
        return outermost or None
    return None


def check_com_members(sources, stats=None):
    findings = []
    outputs = _function_outputs(sources)
    checked = 0
    for src in sources:
        types = _ComTypes(src, outputs)
        for scope, function in _scopes(src):
            env = _parameter_types(src, function) if function is not None else {}

            def on_member(node, env, src=src, types=types):
                nonlocal checked
                parts = node.children
                member = next((c for c in parts if c.type == "member_name"), None)
                if member is None or parts[0].type == "type_literal":
                    return
                owner = types.type_of(parts[0], env)
                if owner is None:
                    return
                checked += 1
                if src.text(member).lower() not in COM_INTERFACES[owner]["members"]:
                    findings.append(Finding("com_members", src.where(member), (
                        "%s has no member %s in Microsoft's documentation (known: %s)" % (
                            owner, src.text(member), ", ".join(sorted(COM_INTERFACES[owner]["members"]))))))

            _com_scope_walk(src, scope, env, types, on_member)

            for node in _in_scope(scope):
                if node.type != "assignment_expression":
                    continue
                left = unwrap(named(node)[0])
                if left.type != "member_access":
                    continue
                prop = src.text(named(left)[-1]).lower()
                if prop not in ENUM_PROPERTIES:
                    continue
                values = _enum_values(src, named(node)[-1], scope)
                if values is None:
                    findings.append(Finding("com_members", src.where(node), (
                        "the value assigned to %s cannot be checked statically: assign a literal, a literal "
                        "table's entry or a loop over literal hashtables" % src.text(left))))
                elif not values <= ENUM_PROPERTIES[prop]:
                    findings.append(Finding("com_members", src.where(node), (
                        "%s gets %s; Microsoft documents only %s" % (
                            src.text(left), sorted(values - ENUM_PROPERTIES[prop]), sorted(ENUM_PROPERTIES[prop])))))
    if stats is not None:
        stats["com_members_checked"] = checked
    return findings


# ---------------------------------------------------------------- 5. PowerShell 7 only

# Commands that Windows PowerShell 5.1 lacks.
PS7_COMMANDS = {"test-json", "get-error", "join-string", "convertfrom-markdown", "show-markdown",
                "get-markdownoption", "set-markdownoption", "get-uptime", "remove-alias", "remove-service",
                "get-experimentalfeature", "enable-experimentalfeature", "disable-experimentalfeature",
                "get-pscallstack2", "foreach-object-parallel"}
# Parameters that Windows PowerShell 5.1's version of a command lacks (aliases of the command too).
PS7_PARAMETERS = {
    "foreach-object": {"parallel", "throttlelimit", "timeoutseconds", "asjob", "usenewrunspace"},
    "convertfrom-json": {"ashashtable", "depth", "noenumerate", "dateKind".lower()},
    "convertto-json": {"asarray", "enumsasstrings", "escapehandling"},
    "get-content": {"asbytestream"},
    "set-content": {"asbytestream", "nonewline"},
    "add-content": {"asbytestream"},
    "invoke-webrequest": {"skipcertificatecheck", "authentication", "sslprotocol", "skipheadervalidation",
                          "resume", "statuscodevariable", "responseheadersvariable", "maximumretrycount"},
    "invoke-restmethod": {"skipcertificatecheck", "authentication", "sslprotocol", "skipheadervalidation",
                          "resume", "statuscodevariable", "responseheadersvariable", "maximumretrycount"},
    "import-module": {"usewindowspowershell"},
    "start-process": {"environment"},
    "select-object": {"skipindex"},
    "get-childitem": {"followsymlink"},
}
_COMMAND_ALIASES = {"foreach": "foreach-object", "%": "foreach-object"}
PS7_VARIABLES = {"$iswindows", "$islinux", "$ismacos", "$iscoreclr", "$psstyle", "$enabledexperimentalfeatures",
                 "$psnativecommandargumentpassing", "$psnativecommanduseerroractionpreference"}


def check_powershell7(sources):
    findings = []
    for src in sources:
        for node in walk(src.tree.root_node):
            kind = node.type
            if kind == "pipeline_chain_tail":
                findings.append(Finding("powershell7", src.where(node), (
                    "pipeline chain operator %s exists only in PowerShell 7" % src.text(node).strip())))
            elif kind == "ERROR":
                text = src.text(node)
                if "??" in text:
                    what = "null-coalescing operator ??"
                elif "?." in text or "?[" in text:
                    what = "null-conditional member access ?. / ?["
                elif "?" in text:
                    what = "ternary operator ? :"
                else:
                    continue
                findings.append(Finding("powershell7", src.where(node), "%s exists only in PowerShell 7" % what))
            elif kind == "command":
                name = (command_name(src, node) or "").lower()
                name = _COMMAND_ALIASES.get(name, name)
                if name in PS7_COMMANDS:
                    findings.append(Finding("powershell7", src.where(node), "%s exists only in PowerShell 6+" % name))
                for parameter in command_parameters(src, node):
                    if parameter in PS7_PARAMETERS.get(name, ()):
                        findings.append(Finding("powershell7", src.where(node), (
                            "%s -%s exists only in PowerShell 6+" % (name, parameter))))
            elif kind == "variable" and _variable_text(src, node) in PS7_VARIABLES:
                findings.append(Finding("powershell7", src.where(node), (
                    "%s does not exist in Windows PowerShell 5.1 (it reads as $null there)" % src.text(node))))
            elif kind == "expandable_string_literal" and re.search(r"`e|`u\{", src.text(node)):
                findings.append(Finding("powershell7", src.where(node), (
                    "the escapes `e and `u{...} exist only in PowerShell 6+")))
    return findings


# ---------------------------------------------------------------- 6. ConvertTo-Json -InputObject -Depth


def _has_parameter(parameters, name, shortest):
    """A parameter given by its name or an unambiguous prefix at least ``shortest`` long."""
    return any(len(p) >= shortest and name.startswith(p) for p in parameters)


def check_convertto_json(sources):
    findings = []
    for src in sources:
        for node in walk(src.tree.root_node):
            if node.type != "command" or (command_name(src, node) or "").lower() != "convertto-json":
                continue
            parameters = command_parameters(src, node)
            missing = [name for name, shortest in (("inputobject", 3), ("depth", 3))
                       if not _has_parameter(parameters, name, shortest)]
            if missing:
                findings.append(Finding("convertto_json", src.where(node), (
                    "ConvertTo-Json without %s: %s" % (" and ".join("-" + m for m in missing), src.text(node)))))
    return findings


# ---------------------------------------------------------------- 7. read before assignment

AUTOMATIC_VARIABLES = {
    "$_", "$psitem", "$args", "$input", "$this", "$true", "$false", "$null", "$pid", "$host", "$error",
    "$psscriptroot", "$pscommandpath", "$myinvocation", "$psboundparameters", "$pscmdlet", "$lastexitcode",
    "$matches", "$?", "$^", "$$", "$home", "$pwd", "$shellid", "$psversiontable", "$executioncontext",
    "$foreach", "$switch", "$pshome", "$psculture", "$psuiculture", "$stacktrace", "$nestedpromptlevel",
    "$profile", "$sender", "$eventargs", "$eventsubscriber", "$sourceargs", "$sourceeventargs", "$event",
    "$pssenderinfo", "$psdebugcontext", "$consolefilename", "$ofs",
    "$erroractionpreference", "$warningpreference", "$verbosepreference", "$debugpreference",
    "$progresspreference", "$informationpreference", "$confirmpreference", "$whatifpreference",
    "$psdefaultparametervalues", "$psmoduleautoloadingpreference", "$maximumhistorycount",
}
_OUT_VARIABLE_PARAMETERS = {"outvariable", "ov", "errorvariable", "ev", "warningvariable", "wv",
                            "informationvariable", "iv", "pipelinevariable", "pv"}


def _reads_and_writes(src, scope):
    """[(kind, name, node)] in evaluation order: kind 'read' or 'write'."""
    events = []

    def variable_events(node, kind):
        if node.type == "variable":
            events.append((kind, _variable_text(src, node), node))

    def visit(node):
        kind = node.type
        if kind == "function_statement" and node is not scope:
            return
        if kind == "assignment_expression":
            parts = named(node)
            operator = src.text(next(c for c in node.children if c.type == "assignement_operator")).strip()
            visit(parts[-1])
            targets = _assigned_variables(parts[0])
            for target in targets:
                if operator != "=":
                    variable_events(target, "read")
                variable_events(target, "write")
            if not targets:
                visit(parts[0])
            return
        if kind == "foreach_statement":
            loop_variable = next(c for c in node.children if c.type == "variable")
            for child in node.children:
                if child is loop_variable:
                    variable_events(child, "write")
                else:
                    visit(child)
            return
        if kind == "expression_with_unary_operator" and named(node) and named(node)[0].type == "type_literal" \
                and src.text(named(node)[0]).lower() == "[ref]":
            for child in named(node)[1:]:
                if unwrap(child).type == "variable":
                    variable_events(unwrap(child), "write")
                else:
                    visit(child)
            return
        if kind == "param_block":
            for parameter in walk(node):
                if parameter.type == "script_parameter":
                    default = [c for c in named(parameter) if c.type == "script_parameter_default"]
                    for value in default:
                        visit(value)
                    for child in named(parameter):
                        if child.type == "variable":
                            variable_events(child, "write")
            return
        if kind == "command":
            parameters = [c for c in walk(node) if c.type == "command_parameter"]
            for parameter in parameters:
                if src.text(parameter)[1:].lower() in _OUT_VARIABLE_PARAMETERS:
                    value = parameter.next_named_sibling
                    while value is not None and value.type == "command_argument_sep":
                        value = value.next_named_sibling
                    if value is not None:
                        name = src.text(value).strip("'\"").lstrip("+").lower()
                        events.append(("write", "$" + name, value))
        if kind == "variable":
            events.append(("read", _variable_text(src, node), node))
            return
        for child in node.children:
            visit(child)

    visit(scope)
    return events


def _assigned_variables(left):
    """Variable nodes written by an assignment's left side: ``$x``, ``[T]$x``, ``$a, $b``."""
    node = unwrap(left)
    if node.type == "variable":
        return [node]
    if node.type == "array_literal_expression":
        items = [unwrap(c) for c in named(node)]
        return items if all(i.type == "variable" for i in items) else []
    if node.type == "expression_with_unary_operator" or node.type == "cast_expression":
        inner = [unwrap(c) for c in named(node) if c.type != "type_literal"]
        if len(inner) == 1 and inner[0].type == "variable":
            return inner
        nested = [unwrap(c) for c in walk(node) if c.type == "variable"]
        if len(nested) == 1:
            return nested
    return []


def check_read_before_assignment(sources):
    findings = []
    for src in sources:
        for scope, function in _scopes(src):
            assigned = set()
            reported = set()
            for kind, name, node in _reads_and_writes(src, scope):
                if kind == "write":
                    assigned.add(name)
                    continue
                if ":" in name or name in AUTOMATIC_VARIABLES or name in assigned or name in reported:
                    continue
                reported.add(name)
                where = "function %s" % function_name(src, function) if function is not None else "the script"
                findings.append(Finding("read_before_assignment", src.where(node), (
                    "%s reads %s before any assignment to it in %s" % (
                        (function_name(src, function) if function is not None else src.name), src.text(node), where))))
    return findings


# ---------------------------------------------------------------- 8. a parameter overwritten by case


def check_parameter_case(sources):
    findings = []
    for src in sources:
        for name, node in functions(src).items():
            parameters = {}
            for block in walk(node):
                if block.type == "param_block":
                    for parameter in walk(block):
                        if parameter.type == "script_parameter":
                            variable = next(c for c in named(parameter) if c.type == "variable")
                            parameters[src.text(variable).lower()] = src.text(variable)
                    break
            for assignment in _in_scope(node):
                if assignment.type != "assignment_expression":
                    continue
                for target in _assigned_variables(named(assignment)[0]):
                    text = src.text(target)
                    declared = parameters.get(text.lower())
                    if declared is not None and declared != text:
                        findings.append(Finding("parameter_case", src.where(target), (
                            "%s assigns %s, which is its parameter %s (PowerShell names ignore case)"
                            % (name, text, declared))))
    return findings


# ---------------------------------------------------------------- all of them

CHECKS = {
    "null_string_argument": check_null_string_argument,
    "scope_in_worker": check_scope_in_worker,
    "signed_hex": check_signed_hex,
    "com_members": check_com_members,
    "powershell7": check_powershell7,
    "convertto_json": check_convertto_json,
    "read_before_assignment": check_read_before_assignment,
    "parameter_case": check_parameter_case,
}


def run_checks(sources, names=None):
    """Every finding of the named checks (default: all) over ``sources``."""
    findings = []
    for name, check in CHECKS.items():
        if names is None or name in names:
            findings.extend(check(sources))
    return findings


if __name__ == "__main__":  # python -m tests.pscheck [files...]: report, exit 1 on findings
    import sys

    found = run_checks(load_sources(sys.argv[1:] or None))
    for finding in found:
        print(finding)
    sys.exit(1 if found else 0)
