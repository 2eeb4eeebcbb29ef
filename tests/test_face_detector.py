"""Tests of the offline face detector (OpenCV's Haar cascades, plus dlib when it is installed).

Every test passes with and without dlib / face_recognition_models: what differs (landmarks) is
checked for whichever engine is present, and the Haar-only fallback is also run on purpose.
"""

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from helpers import benchmark_script, smooth_photo

from restoration.classical import face_detector
from restoration.classical.face_detector import Face, detect_faces, dlib_available
from restoration.errors import InputError, WeightsUnavailableError
from restoration.imageio import load_photo
from restoration.shipped import LoadedOnce

ROOT = Path(__file__).resolve().parent.parent
ASTRONAUT_FACE = (175, 75, 95, 95)  # x, y, w, h of Eileen Collins' face in skimage's astronaut


def _astronaut() -> np.ndarray:
    return skimage.data.astronaut().astype(np.float32) / 255.0


def _example(name: str) -> np.ndarray:
    return np.array(load_photo(ROOT / "examples" / name).pixels, dtype=np.float32)


def _iou(a, b) -> float:
    return face_detector._iou(tuple(map(float, a)), tuple(map(float, b)))


@pytest.fixture
def haar_only(monkeypatch):
    """The detector as it runs when dlib is not installed."""
    monkeypatch.setattr(face_detector, "_dlib", lambda: None)


def _check_faces(faces: list[Face], shape: tuple[int, ...], min_size: int = 24) -> None:
    height, width = shape[:2]
    scores = [f.score for f in faces]
    assert scores == sorted(scores, reverse=True)
    for face in faces:
        x, y, w, h = face.box
        assert all(isinstance(v, int) for v in face.box)
        assert 0 <= x and 0 <= y and x + w <= width and y + h <= height
        assert max(w, h) >= face_detector._BOX_OF_FACE * min_size  # boxes run from the brows, faces from the forehead
        assert 0.0 <= face.score <= 1.0
        if face.landmarks is not None:
            assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float32


def test_astronaut_face_is_found_first_with_landmarks_when_dlib_is_there():
    image = _astronaut()
    faces = detect_faces(image)
    _check_faces(faces, image.shape)
    assert faces and _iou(faces[0].box, ASTRONAUT_FACE) > 0.5
    assert faces[0].score > 0.9
    if dlib_available():
        left_eye, right_eye, nose, mouth_left, mouth_right = faces[0].landmarks
        assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]  # image left first
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
        x, y, w, h = faces[0].box
        assert np.all((faces[0].landmarks >= (x - 5, y - 5)) & (faces[0].landmarks <= (x + w + 5, y + h + 5)))
    else:
        assert faces[0].landmarks is None


def test_grace_hopper_face_is_found():
    cbook = pytest.importorskip("matplotlib.cbook")  # matplotlib ships the photo
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        image = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    faces = detect_faces(image)
    _check_faces(faces, image.shape)
    assert len(faces) == 1
    assert _iou(faces[0].box, (165, 125, 215, 215)) > 0.5


def test_group_photo_finds_most_hand_counted_faces_with_few_false_alarms():
    # CorkKids1910.jpg: 24 faces of 24 px or more counted by eye (benchmarks/face_counts.json);
    # at the default min_size the detector finds 17 of them with dlib and nothing else (15 and one
    # false alarm without dlib)
    truth = json.loads((ROOT / "benchmarks" / "face_counts.json").read_text())["photos"]["CorkKids1910.jpg"]
    image = _example("CorkKids1910.jpg")
    faces = detect_faces(image)
    _check_faces(faces, image.shape)
    matched = [f for f in faces if any(_iou(f.box, b) >= 0.3 for b in truth["faces"] + truth["hard"])]
    assert len(matched) >= 15
    assert len(faces) - len(matched) <= 2


def test_no_face_in_face_free_photos():
    coffee = skimage.data.coffee().astype(np.float32) / 255.0
    assert detect_faces(coffee) == []
    assert detect_faces(smooth_photo(200, 300)) == []


def test_min_size_is_honoured():
    image = _astronaut()
    assert detect_faces(image, min_size=150) == []  # her face is about 100 px
    group = _example("CorkKids1910.jpg")
    faces = detect_faces(group, min_size=34)
    assert faces and all(max(f.box[2], f.box[3]) >= 0.8 * 34 for f in faces)
    assert len(faces) < len(detect_faces(group, min_size=20))


def test_threshold_orders_the_results():
    image = _example("1908FamilyPhoto.jpg")
    strict = detect_faces(image, threshold=0.9)
    loose = detect_faces(image, threshold=0.2)
    assert len(strict) <= len(loose)
    assert all(f.score >= 0.9 for f in strict) and all(f.score >= 0.2 for f in loose)


def test_gray_input_finds_the_same_face():
    image = _astronaut()
    gray = np.repeat(image.mean(axis=2, keepdims=True), 3, axis=2)
    faces = detect_faces(gray)
    assert faces and _iou(faces[0].box, ASTRONAUT_FACE) > 0.5


def test_haar_only_fallback_finds_faces_with_mtcnn_landmarks(haar_only):
    image = _astronaut()
    faces = detect_faces(image)
    _check_faces(faces, image.shape)
    assert faces and _iou(faces[0].box, ASTRONAUT_FACE) > 0.5
    points = faces[0].landmarks
    assert points is not None and points.shape == (5, 2)
    x, y, w, h = faces[0].box
    assert np.all((points[:, 0] > x) & (points[:, 0] < x + w) & (points[:, 1] > y) & (points[:, 1] < y + h))
    left_eye, right_eye, nose, mouth_left, mouth_right = points
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]  # left as seen in the image
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    assert not dlib_available()


def test_haar_only_fallback_finds_the_faces_of_a_family_group_with_mtcnn(haar_only):
    image = _example("1908FamilyPhoto.jpg")  # five people, two in goggles; the cascades alone found one
    faces = detect_faces(image)
    _check_faces(faces, image.shape)
    assert len(faces) >= 4
    centres = [(x + w / 2, y + h / 2) for x, y, w, h in (f.box for f in faces)]
    assert all(140 < cy < 270 for _, cy in centres)  # every box in the band of heads, none on the lawn or the bushes


def test_missing_dlib_is_a_warning_not_an_error(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "dlib", None)  # makes "import dlib" raise ImportError
    face_detector._dlib.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=face_detector.__name__):
            faces = detect_faces(_astronaut())
        assert faces and faces[0].landmarks is not None  # MTCNN's
        assert "Haar cascades and MTCNN only" in caplog.text
    finally:
        face_detector._dlib.cache_clear()


def test_mtcnn_checks_every_candidate_high_on_faces_and_low_elsewhere():
    # R-Net and O-Net score each candidate box itself, also where MTCNN's own cascade found nothing
    for use_dlib in (True, False):
        cands = face_detector._candidates(_astronaut(), use_dlib=use_dlib)
        on_face = [c for c in cands if _iou(c.box, ASTRONAUT_FACE) > 0.5]
        elsewhere = [c for c in cands if _iou(c.box, ASTRONAUT_FACE) < 0.1]
        assert on_face and on_face[0].features["rnet"] > 3.0 and on_face[0].features["onet"] > 3.0
        assert all(min(c.features["rnet"], c.features["onet"]) < 0.0 for c in elsewhere)
    gray = face_detector._gray(skimage.data.coffee().astype(np.float32) / 255.0)
    assert all(max(pair) < 0.0 for pair in (face_detector._mtcnn_check(gray, box) for box in [(200.0, 150.0, 90.0, 90.0), (50.0, 40.0, 30.0, 30.0)]))


def test_mtcnn_is_evidence_on_every_candidate():
    # MTCNN's logit: high on the astronaut's face, the floor on candidates it does not detect
    cands = face_detector._candidates(_astronaut())
    on_face = [c for c in cands if _iou(c.box, ASTRONAUT_FACE) > 0.5]
    assert on_face and on_face[0].features["mtcnn"] > 5.0
    elsewhere = [c.features["mtcnn"] for c in cands if _iou(c.box, ASTRONAUT_FACE) < 0.1]
    assert elsewhere and all(v == face_detector._MTCNN_FLOOR for v in elsewhere)


def test_mtcnn_boxes_are_mapped_onto_dlibs_convention():
    # an MTCNN box (1.25 times as tall as wide, from the forehead) becomes dlib's square
    x, y, w, h = face_detector._mtcnn_to_dlib((100.0, 50.0, 80.0, 100.0))
    assert w == h == pytest.approx(80.0 * face_detector._MTCNN_TO_DLIB[2])
    assert (x, y) == pytest.approx((100.0 + 80.0 * face_detector._MTCNN_TO_DLIB[0], 50.0 + 80.0 * face_detector._MTCNN_TO_DLIB[1]))


def test_missing_mtcnn_weights_is_a_clear_error_not_a_silent_loss_of_faces(monkeypatch, tmp_path):
    # the weights ship with the code; without them every candidate would lose three cues
    monkeypatch.setattr(face_detector.mtcnn, "WEIGHTS_PATH", tmp_path / "mtcnn.safetensors")
    monkeypatch.setattr(face_detector.mtcnn, "_loaded", LoadedOnce("the MTCNN face detector", face_detector.mtcnn._build))
    with pytest.raises(WeightsUnavailableError, match="MTCNN.*missing"):
        detect_faces(_astronaut())


def test_five_points_follow_ffhq_order():
    # dlib's points: image-right eye (outer, inner), image-left eye (outer, inner), nose base
    dlib_points = np.array([[70.0, 40.0], [60.0, 40.0], [30.0, 40.0], [40.0, 40.0], [50.0, 62.0]])
    points = face_detector._five_points(dlib_points)
    assert points.shape == (5, 2) and points.dtype == np.float32
    np.testing.assert_allclose(points[0], (35.0, 40.0))  # left eye centre
    np.testing.assert_allclose(points[1], (65.0, 40.0))  # right eye centre
    assert points[2][0] == pytest.approx(50.0) and 40.0 < points[2][1] < 62.0  # nose tip above the base
    assert points[3][0] < 50.0 < points[4][0] and points[3][1] == pytest.approx(points[4][1])
    assert points[3][1] > 62.0  # mouth below the nose


def test_wrong_shape_is_refused():
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        detect_faces(np.zeros((64, 64), np.float32))


def test_integer_pixels_are_refused():
    with pytest.raises(InputError, match="float32"):
        detect_faces(np.zeros((64, 64, 3), np.uint8))


def test_values_outside_the_range_are_refused():
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        detect_faces(np.full((64, 64, 3), 2.0, np.float32))


def test_too_small_min_size_is_refused_quoting_it():
    with pytest.raises(InputError, match="min_size.*5"):
        detect_faces(np.zeros((64, 64, 3), np.float32), min_size=5)


def test_non_integer_min_size_is_refused_quoting_it():
    with pytest.raises(InputError, match="24.5"):
        detect_faces(np.zeros((64, 64, 3), np.float32), min_size=24.5)


def test_threshold_outside_the_range_is_refused_quoting_it():
    with pytest.raises(InputError, match="1.5"):
        detect_faces(np.zeros((64, 64, 3), np.float32), threshold=1.5)


def test_nan_threshold_is_refused():
    with pytest.raises(InputError, match="nan"):
        detect_faces(np.zeros((64, 64, 3), np.float32), threshold=float("nan"))


def test_benchmark_matches_each_hand_face_once_and_fits_on_tune_photos_only(monkeypatch):
    bench = benchmark_script("face_detection", monkeypatch)
    truth = {"faces": [[0, 0, 30, 30], [100, 0, 20, 20]], "hard": [[200, 0, 40, 40]]}
    boxes = [(2.0, 2.0, 28.0, 28.0), (0.0, 0.0, 30.0, 30.0), (101.0, 1.0, 19.0, 19.0), (205.0, 5.0, 30.0, 30.0)]
    boxes.append((400.0, 0.0, 30.0, 30.0))
    # a true positive, a second box on the same face (false alarm), a small face, a hard box, nothing
    assert bench.assign(boxes, truth) == [(1, 0), (0, -1), (-1, 1), (-1, -1), (0, -1)]
    assert bench.match(boxes, truth) == [1, 0, -1, -1, 0]
    counts = bench.load_counts()
    assert set(bench.TUNE_PHOTOS) == {name for name, v in counts.items() if v["split"] == "tune"}
    assert all(counts[name]["split"] == "tune" for name in bench.TUNE_PHOTOS)


def test_tiny_image_gives_no_face():
    assert detect_faces(np.full((8, 8, 3), 0.5, np.float32)) == []


def test_concurrent_detections_agree_with_a_single_one():
    # dlib's detectors are not safe for concurrent use: two requests at once once crashed the app
    from concurrent.futures import ThreadPoolExecutor

    image = _example("1908FamilyPhoto.jpg")
    alone = [f.box for f in detect_faces(image)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: [f.box for f in detect_faces(image)], range(3)))
    assert alone and all(boxes == alone for boxes in results)
