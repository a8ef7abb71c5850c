"""WS-Management SOAP envelopes: parse a request, build responses and ``wsman:`` faults.

Only the Windows Remote Shell subset that pywinrm (and Ansible's ``winrm`` connection plugin on
top of it) uses: Create and Delete (WS-Transfer) on the ``.../windows/shell/cmd`` resource, and the
shell actions Command, Send, Receive and Signal ([MS-WSMV] 3.1.4).

Parsing uses ``xml.etree`` (the C accelerator); responses are small string templates, so a request
costs a few tens of microseconds of CPU.
"""

import base64
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
NS_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_MS_WSMAN = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
NS_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS_WSMANFAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"

RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = NS_SHELL + "/Command"
ACTION_SEND = NS_SHELL + "/Send"
ACTION_RECEIVE = NS_SHELL + "/Receive"
ACTION_SIGNAL = NS_SHELL + "/Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

SIGNAL_TERMINATE = NS_SHELL + "/signal/terminate"
SIGNAL_CTRL_C = NS_SHELL + "/signal/ctrl_c"
SIGNAL_CTRL_BREAK = NS_SHELL + "/signal/ctrl_break"

STATE_DONE = NS_SHELL + "/CommandState/Done"
STATE_RUNNING = NS_SHELL + "/CommandState/Running"

# WSManFault codes as Windows reports them (decimal HRESULTs).
CODE_OPERATION_TIMEOUT = 2150858793  # 0x80338029 ERROR_WSMAN_OPERATION_TIMEDOUT (pywinrm retries Receive)
CODE_SHELL_NOT_FOUND = 2150858843  # 0x8033805B, also used for an unknown CommandId
CODE_UNSUPPORTED = 2150858782  # 0x8033801E ERROR_WSMAN_ACTION_NOT_SUPPORTED
CODE_INVALID = 87  # ERROR_INVALID_PARAMETER

DEFAULT_OPERATION_TIMEOUT = 60.0
DEFAULT_MAX_ENVELOPE = 153600

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")


class WsmanFault(Exception):
    """A SOAP fault to answer with (HTTP 500), shaped like the ones Windows returns."""

    def __init__(self, subcode, reason, code, message=None, value="s:Sender"):
        super().__init__(message or reason)
        self.subcode = subcode
        self.reason = reason
        self.code = code
        self.message = message or reason
        self.value = value


def shell_not_found(shell_id):
    return WsmanFault(
        "w:InvalidSelectors",
        "The WS-Management service cannot process the request because the request contained invalid "
        "selectors for the resource. ",
        CODE_SHELL_NOT_FOUND,
        "The request for the Windows Remote Shell with ShellId %s failed because the shell was not found "
        "on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
        "exists on the server. Provide the correct ShellId or create a new shell and retry the operation. "
        % shell_id)


def command_not_found(command_id):
    return WsmanFault(
        "w:InvalidSelectors",
        "The WS-Management service cannot process the request because the request contained invalid "
        "selectors for the resource. ",
        CODE_SHELL_NOT_FOUND,
        "The Windows Remote Shell received a request to perform an operation on a command identifier "
        "that does not exist. Either the command has completed execution or the client specified an "
        "invalid command identifier.")


def operation_timeout():
    return WsmanFault(
        "w:TimedOut",
        "The WS-Management service cannot complete the operation within the time specified in "
        "OperationTimeout.  ",
        CODE_OPERATION_TIMEOUT, value="s:Receiver")


def invalid_request(message):
    return WsmanFault("w:InvalidParameter", "The parameter is incorrect. ", CODE_INVALID, message)


def unsupported_action(action):
    return WsmanFault(
        "a:ActionNotSupported",
        "The action is not supported by the service. ",
        CODE_UNSUPPORTED,
        "The WS-Management service cannot process the request. The action %s is not emulated by the "
        "lab." % action)


def parse_duration(text, default=DEFAULT_OPERATION_TIMEOUT):
    """Seconds in an xs:duration such as ``PT20S`` or ``PT60.000S``; ``default`` if unreadable."""
    match = _DURATION.match((text or "").strip())
    if not match:
        return default
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)


@dataclass
class Request:
    """The parts of a WS-Management request that the shell service acts on."""

    action: str
    resource_uri: str
    message_id: str
    selectors: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    operation_timeout: float = DEFAULT_OPERATION_TIMEOUT
    max_envelope: int = DEFAULT_MAX_ENVELOPE
    body: ET.Element = None

    @property
    def shell_id(self):
        return self.selectors.get("ShellId")

    # Body readers, one per action ------------------------------------------------------------

    def shell_spec(self):
        """Create: input/output streams, working directory, environment, idle timeout."""
        shell = self.body.find("{%s}Shell" % NS_SHELL) if self.body is not None else None
        if shell is None:
            raise invalid_request("Create without an rsp:Shell body")
        env = {}
        for var in shell.iterfind("{%s}Environment/{%s}Variable" % (NS_SHELL, NS_SHELL)):
            env[var.get("Name")] = var.text or ""
        return {
            "input_streams": _text(shell, "InputStreams", "stdin"),
            "output_streams": _text(shell, "OutputStreams", "stdout stderr"),
            "working_directory": _text(shell, "WorkingDirectory", None),
            "idle_timeout": _text(shell, "IdleTimeOut", None),
            "environment": env,
        }

    def command_line(self):
        """Command: the full command line as cmd.exe would see it (Command + Arguments)."""
        line = self.body.find("{%s}CommandLine" % NS_SHELL) if self.body is not None else None
        if line is None:
            raise invalid_request("Command without an rsp:CommandLine body")
        command = _text(line, "Command", "") or ""
        arguments = [a.text or "" for a in line.iterfind("{%s}Arguments" % NS_SHELL)]
        return " ".join([command.strip()] + [a for a in arguments if a])

    def send_streams(self):
        """Send: ``[(command_id, stream_name, data, end)]``."""
        send = self.body.find("{%s}Send" % NS_SHELL) if self.body is not None else None
        if send is None:
            raise invalid_request("Send without an rsp:Send body")
        streams = []
        for stream in send.iterfind("{%s}Stream" % NS_SHELL):
            data = base64.b64decode(stream.text) if stream.text else b""
            end = (stream.get("End") or "false").lower() == "true"
            streams.append((stream.get("CommandId"), stream.get("Name"), data, end))
        return streams

    def receive_command_id(self):
        desired = self.body.find("{%s}Receive/{%s}DesiredStream" % (NS_SHELL, NS_SHELL)) \
            if self.body is not None else None
        if desired is None:
            raise invalid_request("Receive without an rsp:DesiredStream")
        return desired.get("CommandId")

    def signal(self):
        """Signal: ``(command_id, code)``."""
        signal = self.body.find("{%s}Signal" % NS_SHELL) if self.body is not None else None
        if signal is None:
            raise invalid_request("Signal without an rsp:Signal body")
        return signal.get("CommandId"), (_text(signal, "Code", "") or "").strip()


def _text(parent, local, default):
    node = parent.find("{%s}%s" % (NS_SHELL, local))
    return node.text if node is not None and node.text is not None else default


def parse_request(data):
    """Read a SOAP envelope (bytes) into a :class:`Request`; raises :class:`WsmanFault`."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise WsmanFault("w:InvalidMessageInformationHeader", "The request is not well-formed XML. ",
                         CODE_INVALID, str(exc))
    if root.tag != "{%s}Envelope" % NS_SOAP:
        raise invalid_request("not a SOAP 1.2 envelope")
    header = root.find("{%s}Header" % NS_SOAP)
    if header is None:
        raise invalid_request("SOAP envelope without a header")

    def header_text(ns, local, default=""):
        node = header.find("{%s}%s" % (ns, local))
        return (node.text or "").strip() if node is not None else default

    selectors = {s.get("Name"): (s.text or "").strip()
                 for s in header.iterfind("{%s}SelectorSet/{%s}Selector" % (NS_WSMAN, NS_WSMAN))}
    options = {o.get("Name"): (o.text or "").strip()
               for o in header.iterfind("{%s}OptionSet/{%s}Option" % (NS_WSMAN, NS_WSMAN))}
    try:
        max_envelope = int(header_text(NS_WSMAN, "MaxEnvelopeSize", str(DEFAULT_MAX_ENVELOPE)))
    except ValueError:
        max_envelope = DEFAULT_MAX_ENVELOPE
    return Request(
        action=header_text(NS_ADDRESSING, "Action"),
        resource_uri=header_text(NS_WSMAN, "ResourceURI"),
        message_id=header_text(NS_ADDRESSING, "MessageID"),
        selectors=selectors,
        options=options,
        operation_timeout=parse_duration(header_text(NS_WSMAN, "OperationTimeout")),
        max_envelope=max_envelope,
        body=root.find("{%s}Body" % NS_SOAP),
    )


# Responses ---------------------------------------------------------------------------------------

_ENVELOPE = (
    '<s:Envelope xml:lang="en-US" xmlns:s="%s" xmlns:a="%s" xmlns:x="%s" xmlns:w="%s" xmlns:rsp="%s" '
    'xmlns:p="%s">'
    '<s:Header><a:Action>%%s</a:Action><a:MessageID>uuid:%%s</a:MessageID><a:To>%s</a:To>'
    '<a:RelatesTo>%%s</a:RelatesTo></s:Header><s:Body>%%s</s:Body></s:Envelope>'
    % (NS_SOAP, NS_ADDRESSING, NS_TRANSFER, NS_WSMAN, NS_SHELL, NS_MS_WSMAN, ANONYMOUS))


def new_id():
    """A GUID in the upper-case form Windows uses for ShellId and CommandId."""
    return str(uuid.uuid4()).upper()


def envelope(action, relates_to, body):
    return (_ENVELOPE % (escape(action), new_id(), escape(relates_to), body)).encode("utf-8")


def create_response(request, shell, endpoint):
    body = (
        '<x:ResourceCreated><a:Address>%s</a:Address><a:ReferenceParameters>'
        '<w:ResourceURI>%s</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">%s</w:Selector>'
        '</w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>'
        '<rsp:Shell><rsp:ShellId>%s</rsp:ShellId><rsp:ResourceUri>%s</rsp:ResourceUri>'
        '<rsp:Owner>%s</rsp:Owner><rsp:ClientIP>%s</rsp:ClientIP><rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>'
        '<rsp:InputStreams>%s</rsp:InputStreams><rsp:OutputStreams>%s</rsp:OutputStreams>'
        '<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>'
        '</rsp:Shell>'
        % (escape(endpoint), RESOURCE_CMD, shell.shell_id, shell.shell_id, RESOURCE_CMD, escape(shell.owner),
           escape(shell.client_ip), escape(shell.input_streams), escape(shell.output_streams)))
    return envelope(ACTION_CREATE + "Response", request.message_id, body)


def delete_response(request):
    return envelope(ACTION_DELETE + "Response", request.message_id, "")


def command_response(request, command_id):
    body = "<rsp:CommandResponse><rsp:CommandId>%s</rsp:CommandId></rsp:CommandResponse>" % command_id
    return envelope(ACTION_COMMAND + "Response", request.message_id, body)


def send_response(request):
    return envelope(ACTION_SEND + "Response", request.message_id, "<rsp:SendResponse/>")


def signal_response(request):
    return envelope(ACTION_SIGNAL + "Response", request.message_id, "<rsp:SignalResponse/>")


def receive_response(request, command_id, chunks, done, exit_code=None):
    """``chunks``: ``[(stream_name, bytes, end)]``; ``done`` adds CommandState Done with ExitCode."""
    parts = ["<rsp:ReceiveResponse>"]
    cid = quoteattr(command_id)
    for name, data, end in chunks:
        parts.append('<rsp:Stream Name="%s" CommandId=%s%s>%s</rsp:Stream>' % (
            name, cid, ' End="true"' if end else "", base64.b64encode(data).decode("ascii")))
    if done:
        parts.append('<rsp:CommandState CommandId=%s State="%s"><rsp:ExitCode>%d</rsp:ExitCode>'
                     '</rsp:CommandState>' % (cid, STATE_DONE, exit_code))
    else:
        parts.append('<rsp:CommandState CommandId=%s State="%s"/>' % (cid, STATE_RUNNING))
    parts.append("</rsp:ReceiveResponse>")
    return envelope(ACTION_RECEIVE + "Response", request.message_id, "".join(parts))


def fault_response(fault, relates_to, machine):
    body = (
        '<s:Fault><s:Code><s:Value>%s</s:Value><s:Subcode><s:Value>%s</s:Value></s:Subcode></s:Code>'
        '<s:Reason><s:Text xml:lang="en-US">%s</s:Text></s:Reason><s:Detail>'
        '<f:WSManFault xmlns:f="%s" Code="%d" Machine=%s><f:Message>%s</f:Message></f:WSManFault>'
        '</s:Detail></s:Fault>'
        % (fault.value, fault.subcode, escape(fault.reason), NS_WSMANFAULT, fault.code, quoteattr(machine),
           escape(fault.message)))
    return envelope(ACTION_FAULT, relates_to or "uuid:" + new_id(), body)


def receive_payload_limit(max_envelope):
    """Raw output bytes that fit one Receive response under the client's MaxEnvelopeSize."""
    return max(4096, (max(max_envelope, 8192) - 4096) * 3 // 4)
