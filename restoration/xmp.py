"""XMP packets: reading a source's packet, and extending it with an edit history.

Part of the I/O layer: this module knows XMP's RDF/XML syntax, not what a restoration did
(:mod:`restoration.provenance` decides the content). A packet found in the source is kept: its
properties stay, its ``xmpMM:History`` grows by the new events, and the properties set here
replace earlier values. A packet that is not well-formed XML cannot be extended; it is replaced
by a new one (and logged).

References: Adobe XMP Specification Part 1 (ISO 16684-1:2019), data model and RDF/XML
serialisation; Part 2 (2020), ``xmpMM:History`` (ResourceEvent, ``stEvt:``),
``xmpMM:DerivedFrom`` (ResourceRef, ``stRef:``), ``xmp:ModifyDate``; Part 3 (2020), packets in
PNG (iTXt ``XML:com.adobe.xmp``).
"""

from __future__ import annotations

import io
import logging
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["NAMESPACES", "HistoryEvent", "XmpValue", "extend", "history", "upright"]

logger = logging.getLogger(__name__)

NAMESPACES = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "stRef": "http://ns.adobe.com/xap/1.0/sType/ResourceRef#",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "restoration": "urn:old-photo-restoration:xmp:1#",
}
"""Prefixes this module writes (``restoration:`` holds this program's own run record)."""

XmpValue = str | Sequence[str] | Mapping[str, str] | Sequence[Mapping[str, str]]
"""A property value: text; an ordered array of text (rdf:Seq); a structure (field -> text);
or an ordered array of structures."""

_OURS = frozenset(NAMESPACES.values())
_PACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
_PACKET_END = '<?xpacket end="r"?>'
_RDF = f"{{{NAMESPACES['rdf']}}}"
_STEVT = f"{{{NAMESPACES['stEvt']}}}"


@dataclass(frozen=True)
class HistoryEvent:
    """One ``xmpMM:History`` entry (an ``stEvt:`` ResourceEvent).

    Attributes:
        action: ``"converted"``, ``"edited"``, ``"saved"``, ... (XMP Part 2's action names).
        when: date and time, ISO 8601 with a time zone (``2026-12-02T15:04:05+00:00``).
        software_agent: program name and version.
        parameters: what was done, in words and settings.
        changed: the parts changed (``"/"`` = the whole resource), or None to leave it out.
    """

    action: str
    when: str
    software_agent: str
    parameters: str
    changed: str | None = "/"


def _q(name: str) -> str:
    """``"prefix:Name"`` -> ElementTree's ``"{uri}Name"``."""
    prefix, local = name.split(":", 1)
    return f"{{{NAMESPACES[prefix]}}}{local}"


def _parse(packet: str | None) -> tuple[ET.Element, ET.Element] | None:
    """(root element to write back, its rdf:RDF element) of a packet; None when there is no
    packet, it is not well-formed, or it holds no rdf:RDF. A bare rdf:RDF gets an x:xmpmeta
    wrapper. The packet's own namespace prefixes are registered, so they are written back."""
    if not packet or not packet.strip():
        return None
    text = packet.lstrip("\ufeff \t\r\n")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:  # XMP has no DTDs; entities could expand without end
        logger.warning("an XMP packet holds a DTD, which XMP does not allow")
        return None
    try:
        for _, (prefix, uri) in ET.iterparse(io.StringIO(text), events=("start-ns",)):
            _register(prefix, uri)
        root = ET.fromstring(text)
    except ET.ParseError as error:
        logger.warning("an XMP packet is not well-formed XML (%s)", error)
        return None
    if root.tag == _RDF + "RDF":
        meta = ET.Element(_q("x:xmpmeta"))
        meta.append(root)
        return meta, root
    rdf = root.find(f".//{_RDF}RDF")
    return None if rdf is None else (root, rdf)


def _register(prefix: str, uri: str) -> None:
    """Write ``uri`` with the source's ``prefix`` (ElementTree keeps one prefix per namespace,
    process-wide: the prefixes of :data:`NAMESPACES` and their namespaces are never rebound)."""
    if not prefix or prefix.startswith("ns") and prefix[2:].isdigit() or prefix in NAMESPACES or uri in _OURS:
        return
    try:
        ET.register_namespace(prefix, uri)
    except ValueError:
        pass


for _prefix, _uri in NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)


def _descriptions(rdf: ET.Element) -> list[ET.Element]:
    found = rdf.findall(_RDF + "Description")
    if not found:
        found = [ET.SubElement(rdf, _RDF + "Description", {_RDF + "about": ""})]
    return found


def _get(descriptions: list[ET.Element], name: str) -> str | None:
    """A simple property's text, in attribute or element form; None when absent."""
    tag = _q(name)
    for description in descriptions:
        if tag in description.attrib:
            return description.attrib[tag]
        element = description.find(tag)
        if element is not None and element.text:
            return element.text
    return None


def _remove(descriptions: list[ET.Element], name: str) -> None:
    tag = _q(name)
    for description in descriptions:
        description.attrib.pop(tag, None)
        for element in description.findall(tag):
            description.remove(element)


def _set(descriptions: list[ET.Element], name: str, value: XmpValue) -> None:
    """Replace property ``name`` (wherever it is) by ``value`` on the first rdf:Description."""
    _remove(descriptions, name)
    element = ET.SubElement(descriptions[0], _q(name))
    if isinstance(value, str):
        element.text = value
    elif isinstance(value, Mapping):
        _fill_structure(element, value)
    else:
        array = ET.SubElement(element, _RDF + "Seq")
        for item in value:
            entry = ET.SubElement(array, _RDF + "li")
            if isinstance(item, Mapping):
                _fill_structure(entry, item)
            else:
                entry.text = str(item)


def _fill_structure(element: ET.Element, fields: Mapping[str, str]) -> None:
    element.set(_RDF + "parseType", "Resource")
    for field_name, text in fields.items():
        ET.SubElement(element, _q(field_name)).text = str(text)


def upright(packet: str) -> str:
    """``packet`` with ``tiff:Orientation`` set to 1 (orientation is applied to the pixels on
    load); returned unchanged when it has no orientation or cannot be parsed."""
    parsed = _parse(packet)
    if parsed is None or _get(parsed[1].findall(_RDF + "Description"), "tiff:Orientation") in (None, "1"):
        return packet
    _set(_descriptions(parsed[1]), "tiff:Orientation", "1")
    return _serialise(parsed[0])


def extend(
    packet: str | None,
    *,
    events: Sequence[HistoryEvent],
    properties: Mapping[str, XmpValue],
    when: str,
    derived_from: str | None = None,
) -> str:
    """An XMP packet for a file derived from one whose packet is ``packet`` (None: no packet).

    Args:
        packet: the source's packet, kept and extended; None, or one that is not well-formed,
            starts a new packet.
        events: appended, in order, to ``xmpMM:History`` (an rdf:Seq; earlier events are kept).
        properties: ``"prefix:Name"`` (prefixes from :data:`NAMESPACES`) -> value; each
            replaces any earlier value of the property.
        when: the time of writing (ISO 8601): ``xmp:ModifyDate`` and ``xmp:MetadataDate``.
        derived_from: the source's file name, for ``xmpMM:DerivedFrom`` (``stRef:filePath``,
            with the source's own ``stRef:documentID``/``instanceID`` when it had them).

    Returns:
        The packet text, wrapped in ``<?xpacket?>`` processing instructions. A new
        ``xmpMM:InstanceID`` is given; ``xmpMM:DocumentID`` is kept, or made.
    """
    parsed = _parse(packet)
    if parsed is None:
        if packet and packet.strip():
            logger.warning("the source's XMP packet cannot be extended; a new packet replaces it")
        root = ET.Element(_q("x:xmpmeta"))
        parsed = root, ET.SubElement(root, _RDF + "RDF")
    root, rdf = parsed
    descriptions = _descriptions(rdf)
    source_document = _get(descriptions, "xmpMM:DocumentID")
    source_instance = _get(descriptions, "xmpMM:InstanceID")
    _append_history(descriptions, events)
    _set(descriptions, "xmp:ModifyDate", when)
    _set(descriptions, "xmp:MetadataDate", when)
    _set(descriptions, "xmpMM:DocumentID", source_document or f"xmp.did:{uuid.uuid4()}")
    _set(descriptions, "xmpMM:InstanceID", f"xmp.iid:{uuid.uuid4()}")
    if derived_from is not None:
        reference = {"stRef:filePath": derived_from}
        if source_document:
            reference["stRef:documentID"] = source_document
        if source_instance:
            reference["stRef:instanceID"] = source_instance
        _set(descriptions, "xmpMM:DerivedFrom", reference)
    for name, value in properties.items():
        _set(descriptions, name, value)
    return _serialise(root)


def _append_history(descriptions: list[ET.Element], events: Sequence[HistoryEvent]) -> None:
    array = None
    for description in descriptions:
        existing = description.find(_q("xmpMM:History"))
        if existing is not None:
            array = existing.find(_RDF + "Seq")
            if array is None:  # not an ordered array: start one, keeping nothing unreadable
                existing.clear()
                array = ET.SubElement(existing, _RDF + "Seq")
            break
    if array is None:
        array = ET.SubElement(ET.SubElement(descriptions[0], _q("xmpMM:History")), _RDF + "Seq")
    for event in events:
        fields = {
            "stEvt:action": event.action,
            "stEvt:when": event.when,
            "stEvt:softwareAgent": event.software_agent,
            "stEvt:parameters": event.parameters,
        }
        if event.changed is not None:
            fields["stEvt:changed"] = event.changed
        _fill_structure(ET.SubElement(array, _RDF + "li"), fields)


def _serialise(root: ET.Element) -> str:
    """Packet text: ``root`` (x:xmpmeta) between the ``<?xpacket?>`` instructions."""
    ET.indent(root, space=" ")
    return f"{_PACKET_BEGIN}\n{ET.tostring(root, encoding='unicode')}\n{_PACKET_END}"


def history(packet: str) -> list[dict[str, str]]:
    """The ``xmpMM:History`` events of a packet as ``{"action": ..., "when": ..., ...}``
    dicts (``stEvt:`` field names without prefix), in order; [] when there is none."""
    parsed = _parse(packet)
    if parsed is None:
        return []
    events = []
    for item in (li for array in parsed[1].iter(_q("xmpMM:History")) for li in array.iter(_RDF + "li")):
        fields = {key: value for key, value in item.attrib.items() if key.startswith(_STEVT)}
        fields |= {child.tag: child.text or "" for child in item if child.tag.startswith(_STEVT)}
        if fields:
            events.append({key.split("}", 1)[1]: value for key, value in fields.items()})
    return events
