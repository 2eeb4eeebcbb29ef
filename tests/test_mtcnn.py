"""Tests of the MTCNN face detector (restoration/classical/mtcnn.py) with its shipped weights.

The agreement with facenet-pytorch itself is checked outside the test suite (facenet-pytorch is
not a dependency); here its result on the astronaut, recorded once, guards the port against drift.
"""

import threading

import numpy as np
import pytest
import skimage.data

from restoration.classical import mtcnn
from restoration.classical.mtcnn import (
    detect_faces_mtcnn,
    face_probabilities,
    load_mtcnn,
    mtcnn_weights_available,
)
from restoration.errors import InputError, WeightsUnavailableError
from restoration.shipped import LoadedOnce

ASTRONAUT_FACE = (175, 75, 95, 95)  # x, y, w, h of Eileen Collins' face, as in test_face_detector.py
# facenet-pytorch 2.6.0, MTCNN(keep_all=True).detect(skimage.data.astronaut(), landmarks=True), CPU
FACENET_BOX = (181.0514, 62.15613, 86.69591, 109.89403)  # x, y, w, h (from x1, y1, x2, y2)
FACENET_PROBABILITY = 0.99999774
FACENET_LANDMARKS = (
    (205.01091, 101.727455), (246.76257, 103.71408), (224.67137, 128.965), (201.71611, 139.24615), (245.26549, 141.85701),
)


def _astronaut() -> np.ndarray:
    return skimage.data.astronaut().astype(np.float32) / 255.0


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return iw * ih / (aw * ah + bw * bh - iw * ih)


def _check_shapes(result, n=None) -> None:
    boxes, probabilities, landmarks = result
    assert boxes.dtype == probabilities.dtype == landmarks.dtype == np.float32
    count = len(boxes)
    assert boxes.shape == (count, 4) and probabilities.shape == (count,) and landmarks.shape == (count, 5, 2)
    assert n is None or count == n
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert np.all(np.diff(probabilities) <= 0)  # descending


def _check_face(box, landmarks) -> None:
    left_eye, right_eye, nose, mouth_left, mouth_right = landmarks
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]  # image left first
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])  # eyes above the mouth
    x, y, w, h = box
    assert np.all((landmarks >= (x, y)) & (landmarks <= (x + w, y + h)))


def test_the_weights_ship_with_the_repository_and_name_their_source():
    from safetensors import safe_open

    assert mtcnn_weights_available()
    with safe_open(str(mtcnn.WEIGHTS_PATH), framework="pt") as handle:
        metadata = handle.metadata()
        prefixes = {key.split(".", 1)[0] for key in handle.keys()}
    assert prefixes == {"pnet", "rnet", "onet"}
    assert metadata["source"].startswith("facenet_pytorch-2.6.0-py3-none-any.whl")
    assert metadata["source_sha256"] == "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca"
    assert (mtcnn.WEIGHTS_PATH.parent / "LICENSE-mtcnn.txt").read_text().count("MIT License") >= 1


def test_astronaut_face_is_found_with_landmarks():
    result = detect_faces_mtcnn(_astronaut())
    _check_shapes(result, n=1)
    boxes, probabilities, landmarks = result
    assert probabilities[0] > 0.9
    assert _iou(boxes[0], ASTRONAUT_FACE) > 0.6
    _check_face(boxes[0], landmarks[0])


def test_astronaut_matches_facenet_pytorch():
    boxes, probabilities, landmarks = detect_faces_mtcnn(_astronaut())
    np.testing.assert_allclose(boxes[0], FACENET_BOX, atol=0.05)
    np.testing.assert_allclose(probabilities[0], FACENET_PROBABILITY, atol=1e-5)
    np.testing.assert_allclose(landmarks[0], FACENET_LANDMARKS, atol=0.05)


def test_landmark_order_follows_the_image_when_mirrored():
    image = _astronaut()[:, ::-1]
    boxes, probabilities, landmarks = detect_faces_mtcnn(image)
    assert len(boxes) == 1 and probabilities[0] > 0.9
    x, y, w, h = ASTRONAUT_FACE
    assert _iou(boxes[0], (image.shape[1] - x - w, y, w, h)) > 0.6
    _check_face(boxes[0], landmarks[0])


def test_gray_input_finds_the_same_face():
    image = _astronaut()
    gray = (image @ np.array([0.2125, 0.7154, 0.0721], np.float32)).astype(np.float32)
    assert gray.shape == image.shape[:2]
    result = detect_faces_mtcnn(gray)
    _check_shapes(result, n=1)
    boxes, probabilities, landmarks = result
    assert probabilities[0] > 0.9 and _iou(boxes[0], ASTRONAUT_FACE) > 0.6
    _check_face(boxes[0], landmarks[0])


def test_face_probabilities_score_given_boxes_high_on_the_face_and_low_elsewhere():
    image = _astronaut()
    x, y, w, h = ASTRONAUT_FACE
    boxes = np.array([[x, y - 0.1 * h, w, 1.25 * h], [20.0, 300.0, 90.0, 110.0], [600.0, 600.0, 40.0, 50.0], [900.0, 900.0, 30.0, 30.0]])
    rnet, onet = face_probabilities(image, boxes)
    assert rnet.shape == onet.shape == (4,) and rnet.dtype == onet.dtype == np.float32
    assert rnet[0] > 0.9 and onet[0] > 0.9  # her face
    assert rnet[1] < 0.5 and onet[1] < 0.5  # her suit
    assert rnet[3] == onet[3] == 0.0  # a box wholly outside the image
    gray = (image @ np.array([0.2125, 0.7154, 0.0721], np.float32)).astype(np.float32)
    assert face_probabilities(gray, boxes[:1])[1][0] > 0.9
    assert [len(p) for p in face_probabilities(image, np.zeros((0, 4)))] == [0, 0]


@pytest.mark.parametrize("boxes", [np.zeros((3,)), np.zeros((2, 5)), np.array([[0.0, 0.0, np.nan, 10.0]])], ids=["1d", "5-wide", "nan"])
def test_face_probabilities_refuse_bad_boxes(boxes):
    with pytest.raises(InputError, match="boxes"):
        face_probabilities(_astronaut(), boxes)


@pytest.mark.parametrize(
    "image",
    [
        np.full((256, 256, 3), 0.5, np.float32),
        np.random.default_rng(0).random((256, 256, 3), dtype=np.float32),
        np.zeros((10, 10, 3), np.float32),  # smaller than the smallest face looked for
    ],
    ids=["flat-gray", "noise", "tiny"],
)
def test_no_face_where_there_is_none(image):
    _check_shapes(detect_faces_mtcnn(image), n=0)


@pytest.mark.parametrize(
    ("image", "options"),
    [
        (skimage.data.astronaut(), {}),  # uint8: the message says to divide by 255
        (np.zeros((64, 64, 4), np.float32), {}),
        (np.zeros((64, 64, 1), np.float32), {}),
        (np.zeros(64, np.float32), {}),
        (np.full((64, 64, 3), 2.0, np.float32), {}),
        (np.full((64, 64, 3), np.nan, np.float32), {}),
        (np.zeros((64, 64, 3), np.float32), {"min_face_size": 0}),
        (np.zeros((64, 64, 3), np.float32), {"scale_factor": 1.0}),
        (np.zeros((64, 64, 3), np.float32), {"thresholds": (0.6, 0.7)}),
        (np.zeros((64, 64, 3), np.float32), {"thresholds": (0.6, 0.7, 1.5)}),
    ],
    ids=["uint8", "rgba", "one-channel", "1-d", "above-1", "nan", "min-face-0", "scale-1", "two-thresholds", "threshold-1.5"],
)
def test_bad_input_is_refused(image, options):
    with pytest.raises(InputError):
        detect_faces_mtcnn(image, **options)


def test_the_networks_are_loaded_once_in_eval_mode(monkeypatch):
    monkeypatch.setattr(mtcnn, "_loaded", LoadedOnce("the MTCNN face detector", mtcnn._build))  # nothing read yet
    models = []
    threads = [threading.Thread(target=lambda: models.append(load_mtcnn())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(models) == 4 and all(model is models[0] for model in models)
    assert models[0] is load_mtcnn() and not models[0].training


def test_missing_or_broken_weights_raise_weights_unavailable(tmp_path):
    missing = tmp_path / "missing.safetensors"
    assert not mtcnn_weights_available(missing)
    with pytest.raises(WeightsUnavailableError):
        load_mtcnn(missing)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsUnavailableError):
        load_mtcnn(broken)
    from safetensors.torch import save_file

    partial = tmp_path / "pnet-only.safetensors"
    save_file({f"pnet.{k}": v for k, v in mtcnn.PNet().state_dict().items()}, str(partial))
    with pytest.raises(WeightsUnavailableError):
        load_mtcnn(partial)
