"""restoration.provenance: the edit history (XMP) that every restored PNG carries.

Each test writes a real source file, restores it, reads the output back with Pillow and parses
its XMP packet with xml.etree, as an archivist's tool would.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from helpers import save_uint8, scratched, smooth_photo
from PIL import Image, PngImagePlugin

import restoration
from restoration import imageio, provenance, weights
from restoration.engine import MODEL_NAME
from restoration.metadata import XMP_KEYWORD
from restoration.options import RestoreOptions, input_fields, option_fields
from restoration.pipeline import restore
from restoration.stages.denoise import DenoiseOptions
from restoration.stages.scratch import ScratchOptions
from restoration.xmp import NAMESPACES

RDF = f"{{{NAMESPACES['rdf']}}}"
PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"


def q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{PHOTOSHOP if prefix == 'photoshop' else NAMESPACES[prefix]}}}{local}"


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_back(path) -> tuple[dict[str, str], ET.Element]:
    """(the PNG's text chunks, the rdf:Description of its XMP packet)."""
    with Image.open(path) as image:
        image.load()
        text = dict(image.text)
    packet = text[XMP_KEYWORD]
    assert packet.startswith("<?xpacket begin=") and packet.rstrip().endswith("?>")
    descriptions = ET.fromstring(packet.split("?>", 1)[1].rsplit("<?xpacket", 1)[0]).findall(f".//{RDF}Description")
    assert len(descriptions) == 1
    return text, descriptions[0]


def field(element: ET.Element, name: str) -> str | None:
    """A property in attribute or element form."""
    if q(name) in element.attrib:
        return element.attrib[q(name)]
    child = element.find(q(name))
    return None if child is None else child.text


def history(description: ET.Element) -> list[dict[str, str | None]]:
    items = description.findall(f"{q('xmpMM:History')}/{RDF}Seq/{RDF}li")
    names = ("action", "when", "softwareAgent", "parameters", "changed")
    return [{name: field(item, f"stEvt:{name}") for name in names} for item in items]


def structures(description: ET.Element, name: str) -> list[dict[str, str]]:
    items = description.findall(f"{q(name)}/{RDF}Seq/{RDF}li")
    return [{child.tag.split("}")[1]: child.text for child in item} for item in items]


@pytest.fixture
def scan(tmp_path):
    """A scratched JPEG scan (the source file) and its sha256."""
    damaged, _ = scratched(smooth_photo(80, 100))
    path = tmp_path / "grandmother.jpg"
    save_uint8(damaged, path)
    return path, digest(path)


def test_a_classical_run_records_stages_settings_engine_seed_and_version(scan, tmp_path):
    source, before = scan
    photo = imageio.load_photo(source)
    options = RestoreOptions(
        engine="classical", seed=7, stages={"scratch": ScratchOptions(sensitivity=0.6), "denoise": DenoiseOptions(grain=3.0)}
    )
    result = restore(photo.pixels, None, options)
    output = tmp_path / "out" / "grandmother.png"
    restored = provenance.save_restored(photo, result, output, source_name=str(source))

    assert digest(source) == before  # the source is only read
    with Image.open(output) as written:
        np.testing.assert_array_equal(np.asarray(written.convert("RGB")), np.rint(restored.pixels * 255).astype(np.uint8))
    text, description = read_back(output)
    agent = f"Old Photo Restoration {restoration.__version__}"
    assert text["Software"] == agent
    names = [report.name for report in result.stages]
    assert names == ["scratch", "denoise", "face"]

    events = history(description)
    assert [event["action"] for event in events] == ["converted", "edited", "edited", "edited"]
    assert events[0]["parameters"].startswith("from image/jpeg to image/png")
    assert {event["softwareAgent"] for event in events} == {agent}
    assert len({event["when"] for event in events}) == 1 and events[0]["when"].endswith("+00:00")
    for event, report in zip(events[1:], result.stages):
        assert event["parameters"].startswith(f"{report.name} stage, classical engine")
        assert f"changed {report.changed_percent:g} % of the pixels" in event["parameters"]
        assert event["changed"] == ("/" if report.changed_percent > 0 else None)
        assert "seed" not in event["parameters"] and "model" not in event["parameters"]  # no diffusion ran
    assert "sensitivity=0.6" in events[1]["parameters"] and "grain=3.0" in events[2]["parameters"]
    assert result.stages[0].changed_percent > 0  # the scratch was repaired
    assert result.stages[2].changed_percent == 0 and events[3]["changed"] is None  # no face: nothing changed
    assert "No faces were found" in events[3]["parameters"]

    assert field(description, "restoration:Engine") == "classical"
    assert field(description, "restoration:Seed") == "7"
    assert field(description, "restoration:Version") == restoration.__version__
    assert field(description, "restoration:SourceFile") == "grandmother.jpg"
    assert field(description, "restoration:Steps") is None and description.find(q("restoration:Models")) is None
    assert field(description, "dc:format") == "image/png"
    assert field(description.find(q("xmpMM:DerivedFrom")), "stRef:filePath") == "grandmother.jpg"
    stages = structures(description, "restoration:Stages")
    assert [stage["Name"] for stage in stages] == names
    scratch_settings = json.loads(stages[0]["Settings"])
    assert set(scratch_settings) == {o.name for o in option_fields(ScratchOptions)} | set(input_fields(ScratchOptions))
    assert scratch_settings["sensitivity"] == 0.6 and scratch_settings["mask"] == "none"
    assert scratch_settings["mask_mode"] == ScratchOptions().mask_mode
    assert json.loads(stages[1]["Settings"])["grain"] == 3.0 and json.loads(stages[1]["Settings"])["sharpen"] == "auto"
    assert [float(stage["ChangedPercent"]) for stage in stages] == [report.changed_percent for report in result.stages]


def test_a_diffusion_run_records_the_model_revision_seed_and_steps(scan, tmp_path, tiny_weights):
    source, before = scan
    photo = imageio.load_photo(source)
    result = restore(photo.pixels, "scratch", RestoreOptions(engine="diffusion", seed=5, steps=2))
    output = tmp_path / "restored.png"
    provenance.save_restored(photo, result, output, source_name=source.name)

    assert digest(source) == before
    _, description = read_back(output)
    entry = weights.load_manifest()[MODEL_NAME]
    assert field(description, "restoration:Engine") == "diffusion"
    assert field(description, "restoration:Seed") == "5" and field(description, "restoration:Steps") == "2"
    assert field(description, "restoration:FastMode") == "false"
    assert structures(description, "restoration:Models") == [
        {"Name": MODEL_NAME, "Source": entry.repo, "Revision": entry.revision}
    ]
    assert len(entry.revision) == 40
    (event,) = [event for event in history(description) if event["action"] == "edited"]
    assert event["parameters"].startswith("scratch stage, diffusion engine")
    assert "seed 5, 2 steps" in event["parameters"]
    assert f"model {entry.repo}@{entry.revision}" in event["parameters"]


PHOTOSHOP_PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"'
    ' xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    ' xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
    ' xmpMM:DocumentID="xmp.did:0001" xmpMM:InstanceID="xmp.iid:0002" photoshop:Credit="County archive">'
    "<dc:creator><rdf:Seq><rdf:li>A. Photographer</rdf:li></rdf:Seq></dc:creator>"
    '<xmpMM:History><rdf:Seq><rdf:li stEvt:action="saved" stEvt:instanceID="xmp.iid:0002"'
    ' stEvt:when="2019-05-04T10:00:00+02:00" stEvt:softwareAgent="Adobe Photoshop CC 2019" stEvt:changed="/"/>'
    "</rdf:Seq></xmpMM:History></rdf:Description></rdf:RDF></x:xmpmeta>\n"
    '<?xpacket end="w"?>'
)


def test_a_source_history_is_extended_and_its_metadata_kept_through_two_runs(tmp_path):
    gray = (smooth_photo(64, 72, gray=True)[..., 0] * 65535).astype(np.uint16)
    source = tmp_path / "print.png"
    info = PngImagePlugin.PngInfo()
    info.add_itxt(XMP_KEYWORD, PHOTOSHOP_PACKET)
    info.add_text("Title", "Harvest, 1912")
    Image.fromarray(gray).save(source, pnginfo=info)  # a 16-bit gray PNG: the chunk-by-chunk writer
    before = digest(source)

    first = tmp_path / "first.png"
    photo = imageio.load_photo(source)
    assert photo.metadata.bit_depth == 16
    provenance.save_restored(photo, restore(photo.pixels, "denoise", RestoreOptions(engine="classical")), first, source_name="print.png")
    second = tmp_path / "second.png"
    again = imageio.load_photo(first)
    provenance.save_restored(again, restore(again.pixels, "scratch", RestoreOptions(engine="classical")), second, source_name="first.png")

    assert digest(source) == before
    with Image.open(second) as image:
        assert image.mode == "I;16" and image.size == (72, 64)
    text, description = read_back(second)
    assert text["Title"] == "Harvest, 1912"
    events = history(description)
    assert [event["action"] for event in events] == ["saved", "edited", "edited"]  # a PNG source: no conversion
    assert events[0]["softwareAgent"] == "Adobe Photoshop CC 2019" and events[0]["when"] == "2019-05-04T10:00:00+02:00"
    assert events[1]["parameters"].startswith("denoise stage") and events[2]["parameters"].startswith("scratch stage")
    assert description.find(f"{q('dc:creator')}/{RDF}Seq/{RDF}li").text == "A. Photographer"
    assert field(description, "photoshop:Credit") == "County archive"
    assert field(description, "xmpMM:DocumentID") == "xmp.did:0001"  # the same document, a new instance
    instance = field(description, "xmpMM:InstanceID")
    assert instance.startswith("xmp.iid:") and instance != "xmp.iid:0002"
    derived = description.find(q("xmpMM:DerivedFrom"))
    assert field(derived, "stRef:filePath") == "first.png" and field(derived, "stRef:documentID") == "xmp.did:0001"
    assert [stage["Name"] for stage in structures(description, "restoration:Stages")] == ["scratch"]  # the latest run


@pytest.mark.parametrize(
    "packet",
    ["<x:xmpmeta><rdf:RDF>not closed", '<!DOCTYPE x [<!ENTITY a "aaaa">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&a;</x:xmpmeta>'],
    ids=["not-well-formed", "with-a-dtd"],
)
def test_a_source_packet_that_cannot_be_extended_is_replaced_by_a_valid_one(tmp_path, packet):
    source = tmp_path / "broken.png"
    info = PngImagePlugin.PngInfo()
    info.add_itxt(XMP_KEYWORD, packet)
    save = smooth_photo(40, 50)
    Image.fromarray(np.rint(save * 255).astype(np.uint8)).save(source, pnginfo=info)
    photo = imageio.load_photo(source)
    output = tmp_path / "out.png"
    provenance.save_restored(photo, restore(photo.pixels, "scratch", RestoreOptions(engine="classical")), output)
    text, description = read_back(output)
    assert [event["action"] for event in history(description)] == ["edited"]
    assert "<!DOCTYPE" not in text[XMP_KEYWORD]
    assert description.find(q("xmpMM:DerivedFrom")) is None  # no source name given
