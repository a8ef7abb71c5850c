# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The one place that turns Windows Update HRESULTs into names and meanings.

Names and meanings follow Microsoft's "Windows Update error codes by component" and "WUA
Networking Error Codes" pages (see reference/wua_anchors.md §6.5 of the design notes).
"""

from __future__ import annotations

HRESULTS = {
    0x00240005: ("WU_S_REBOOT_REQUIRED", "The operation succeeded; a restart is needed to finish it."),
    0x80070002: ("ERROR_FILE_NOT_FOUND", "The file (for example the offline scan package) was not found."),
    0x80070003: ("ERROR_PATH_NOT_FOUND", "The path (for example the offline scan package's folder) was not found."),
    0x80070005: ("E_ACCESSDENIED", "Access denied: the Windows Update Agent refuses this call from a network "
                                   "logon or without administrator rights."),
    0x80070035: ("ERROR_BAD_NETPATH", "The network path (for example the offline scan package's share) was not found."),
    0x80070043: ("ERROR_BAD_NET_NAME", "The network name (the share of the offline scan package) cannot be found."),
    0x8007045B: ("ERROR_SHUTDOWN_IN_PROGRESS", "A system shutdown is in progress."),
    0x80070569: ("ERROR_LOGON_TYPE_NOT_GRANTED", "The account lacks the batch logon right the scheduled task needs."),
    0x80240009: ("WU_E_OPERATIONINPROGRESS", "Another conflicting operation was in progress."),
    0x8024000B: ("WU_E_CALL_CANCELLED", "The operation was cancelled."),
    0x80240016: ("WU_E_INSTALL_NOT_ALLOWED", "Another installation is in progress or a mandatory restart is pending."),
    0x8024001E: ("WU_E_SERVICE_STOP", "The service or the system was shutting down."),
    0x80240020: ("WU_E_NO_INTERACTIVE_USER", "The operation needs an interactive user to be logged on."),
    0x80240022: ("WU_E_ALL_UPDATES_FAILED", "The operation failed for all the updates."),
    0x80240025: ("WU_E_USER_ACCESS_DISABLED", "Group Policy blocks the user's access to Windows Update."),
    0x8024002E: ("WU_E_WU_DISABLED", "Access to an unmanaged server is not allowed."),
    0x80240032: ("WU_E_INVALID_CRITERIA", "The search criteria string was invalid."),
    0x80240438: ("WU_E_PT_ENDPOINT_UNREACHABLE", "There is no route or network connectivity to the endpoint."),
    0x80244007: ("WU_E_PT_SOAPCLIENT_SOAPFAULT", "The update server answered with a SOAP fault."),
    0x80244018: ("WU_E_PT_HTTP_STATUS_FORBIDDEN", "HTTP 403: the server or a proxy refused the request."),
    0x80244019: ("WU_E_PT_HTTP_STATUS_NOT_FOUND", "HTTP 404: the server could not find the requested URL."),
    0x8024401C: ("WU_E_PT_HTTP_STATUS_REQUEST_TIMEOUT", "HTTP 408: the server timed out waiting for the request."),
    0x80244022: ("WU_E_PT_HTTP_STATUS_SERVICE_UNAVAIL", "HTTP 503: the service is temporarily overloaded."),
    0x8024402C: ("WU_E_PT_WINHTTP_NAME_NOT_RESOLVED", "The proxy or update server name could not be resolved."),
    0x8024A000: ("WU_E_AU_NOSERVICE", "Automatic Updates was unable to service incoming requests."),
}


# An offline scan that failed with one of these never searched: the scan file named in the request
# is not there (a typo in the path, a share that is not mounted). The request was wrong, not the host.
SCAN_FILE_MISSING = frozenset((0x80070002, 0x80070003, 0x80070035, 0x80070043))


def unsigned(hresult):
    """HRESULTs arrive signed (PowerShell's Int32) or unsigned; use the unsigned 32-bit value."""
    return int(hresult) & 0xFFFFFFFF


def describe(hresult):
    """``{"hresult": "0x8024402C", "name": ..., "meaning": ...}`` for any HRESULT, known or not."""
    if hresult is None:
        return {"hresult": None, "name": None, "meaning": None}
    value = unsigned(hresult)
    name, meaning = HRESULTS.get(value, (None, None))
    if name is None:
        if value & 0xFFFF0000 == 0x80070000:
            name, meaning = "HRESULT_FROM_WIN32(%d)" % (value & 0xFFFF), "Win32 error %d." % (value & 0xFFFF)
        elif value & 0xFFFF0000 == 0x80240000:
            name, meaning = "WU_E_UNKNOWN", "A Windows Update Agent error without a documented name here."
        else:
            name, meaning = "UNKNOWN", "An HRESULT without a documented name here."
    return {"hresult": "0x%08X" % value, "name": name, "meaning": meaning}
