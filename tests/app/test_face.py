"""livenessapp.face: tracking, crops and the dense depth label (Eq. 3 target, Eq. 18 mask)."""

from __future__ import annotations

import numpy as np
import pytest

from livenessapp import face as F


@pytest.fixture(scope="module")
def hopper_face(grace_hopper_bgr):
    with F.FaceMeshTracker(static_image_mode=True) as tracker:
        faces = tracker.process(grace_hopper_bgr)
    assert len(faces) == 1
    return faces[0]


def test_mesh_topology_is_closed():
    tri = F.MESH_TRIANGLES
    assert tri.dtype == np.int32 and tri.shape[1] == 3
    # 852 faces of the canonical mesh + fans closing both eyes (16 rim vertices) and the mouth (20).
    assert sorted(len(h) for h in F.MESH_HOLES) == [16, 16, 20]
    assert len(tri) == 852 + 16 + 16 + 20
    assert tri.max() == F.LANDMARK_COUNT + len(F.MESH_HOLES) - 1
    # Every edge of the closed mesh is shared by two triangles, except the outer contour's.
    edges = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert set(counts.tolist()) == {1, 2}
    assert (counts == 1).sum() == 36  # FACEMESH_FACE_OVAL


@pytest.mark.parametrize("fixture", ["grace_hopper_bgr", "astronaut_bgr"])
def test_tracker_finds_exactly_one_face(fixture, request):
    image = request.getfixturevalue(fixture)
    with F.FaceMeshTracker(static_image_mode=True) as tracker:
        faces = tracker.process(image)
    assert len(faces) == 1
    face = faces[0]
    assert face.landmarks.shape == (F.LANDMARK_COUNT, 3) and face.landmarks.dtype == np.float32
    h, w = image.shape[:2]
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    assert face.size >= 100 and face.area > 0 and face.score == 1.0
    cx, cy = face.center
    assert x0 < cx < x1 and y0 < cy < y1
    assert F.primary_face(faces, image.shape) is face
    assert F.primary_face([], image.shape) is None


def test_primary_face_prefers_large_and_central():
    def obs(x0, y0, x1, y1):
        lm = np.zeros((F.LANDMARK_COUNT, 3), np.float32)
        lm[:, 0] = np.linspace(x0, x1, F.LANDMARK_COUNT)
        lm[:, 1] = np.linspace(y0, y1, F.LANDMARK_COUNT)
        return F.FaceObservation.from_landmarks(lm)

    centre, corner = obs(270, 190, 370, 290), obs(0, 0, 110, 110)
    assert F.primary_face([corner, centre], (480, 640, 3)) is centre
    big_corner = obs(0, 0, 220, 220)
    assert F.primary_face([centre, big_corner], (480, 640, 3)) is big_corner


def test_crop_and_affine(grace_hopper_bgr, hopper_face):
    crop, affine = F.crop_face(grace_hopper_bgr, hopper_face, 128, scale=1.3)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    assert affine.shape == (2, 3)
    cx, cy, side = F.square_crop_box(hopper_face, 1.3)
    assert side == pytest.approx(1.3 * hopper_face.size)
    # The box centre maps to the crop centre; the scale is out_size / side.
    c = affine[:, :2] @ np.array([cx, cy]) + affine[:, 2]
    np.testing.assert_allclose(c, [64, 64], atol=1e-6)
    assert affine[0, 0] == pytest.approx(128 / side)
    # Every landmark lands inside the crop (the box is enlarged by 1.3).
    mapped = hopper_face.landmarks[:, :2] @ affine[:, :2].T + affine[:, 2]
    assert (mapped >= 0).all() and (mapped <= 128).all()
    # Pixel agreement: the crop pixel at a mapped landmark equals the frame pixel at the landmark.
    rgb = grace_hopper_bgr[..., ::-1].astype(np.float32)
    for idx in (1, 33, 263, 152):
        x, y = hopper_face.landmarks[idx, :2]
        u, v = mapped[idx]
        frame_px = rgb[int(y), int(x)]
        crop_px = crop[int(v), int(u)].astype(np.float32)
        assert np.abs(frame_px - crop_px).mean() < 40
    # A crop hanging over the frame border is black there.
    lm = hopper_face.landmarks.copy()
    lm[:, 0] -= lm[:, 0].min()  # face at the left edge
    crop2, _ = F.crop_face(grace_hopper_bgr, F.FaceObservation.from_landmarks(lm), 64, scale=1.5)
    assert crop2[:, :3].max() == 0


def test_crop_border_fills_outside_the_frame_with_black_or_the_mirrored_frame(grace_hopper_bgr, hopper_face):
    # A box centred on a frame's top-left corner: black fill outside the frame, or the frame mirrored about
    # its edges (BORDER_REFLECT_101); inside the frame both crops are the same pixels.
    yy, xx = np.mgrid[0:200, 0:200].astype(np.float32)
    frame = np.stack([80 + 0.6 * xx, 80 + 0.6 * yy, 200 - 0.3 * (xx + yy)], -1).astype(np.uint8)
    affine = F.crop_affine(0.0, 0.0, 100.0, 64)
    black = F.warp_image(frame, affine, 64)
    mirrored = F.warp_image(frame, affine, 64, border="reflect")
    np.testing.assert_array_equal(black[33:, 33:], mirrored[33:, 33:])
    assert black[:31, :31].max() == 0
    # the fill is the quadrant inside the frame mirrored about both edges (crop pixel i <-> 63 - i), up to
    # the frame pixel that REFLECT_101 leaves out at the edge (about one grey level here)
    inside = mirrored[33:63, 33:63].astype(float)
    assert np.abs(mirrored[1:31, 1:31][::-1, ::-1].astype(float) - inside).max() <= 3
    # a 3x face box leaves the portrait's frame: a quarter of the black-filled crop is pure black, none of
    # the reflected one
    plain, _ = F.crop_face(grace_hopper_bgr, hopper_face, 64, 3.0)
    reflected, _ = F.crop_face(grace_hopper_bgr, hopper_face, 64, 3.0, border="reflect")
    assert (plain == 0).all(-1).sum() > 500 and (reflected == 0).all(-1).sum() == 0
    with pytest.raises(ValueError, match="crop border must be one of"):
        F.warp_image(frame, affine, 64, border="replicate")


def test_normalise_layout():
    img = np.full((8, 8, 3), 255, np.uint8)
    img[..., 0] = 0
    x = F.normalise(img, 127.5, 128.0)
    assert x.shape == (3, 8, 8) and x.dtype == np.float32
    assert x[0].max() == pytest.approx(-127.5 / 128) and x[1].min() == pytest.approx(127.5 / 128)
    assert F.normalise(np.stack([img, img]), 127.5, 128.0).shape == (2, 3, 8, 8)


def _map_xy(face, affine, crop_size, map_size, idx):
    p = face.landmarks[idx, :2] @ affine[:, :2].T + affine[:, 2]
    c, r = (p * map_size / crop_size).astype(int)
    return r, c


def test_depth_label_is_face_shaped(grace_hopper_bgr, hopper_face):
    _, affine = F.crop_face(grace_hopper_bgr, hopper_face, 256)
    depth, mask = F.depth_label(hopper_face, affine, 256, 32)
    assert depth.shape == mask.shape == (32, 32)
    assert depth.dtype == mask.dtype == np.float32
    assert set(np.unique(mask).tolist()) == {0.0, 1.0}
    assert depth.min() == 0.0 and 0.9 < depth.max() <= 1.0
    assert (depth[mask == 0] == 0).all()
    np.testing.assert_array_equal(depth > 0, mask > 0)
    # The face border is the far end (at 32x32 no pixel centre falls on the outermost contour itself).
    assert F.DEPTH_FLOOR <= depth[mask > 0].min() < 0.4
    # A frontal face fills a good part of a 1.3x crop and its border is background.
    assert 0.3 < mask.mean() < 0.8
    assert mask[0].sum() == 0 and mask[-1].sum() == 0
    nose = depth[_map_xy(hopper_face, affine, 256, 32, F.NOSE_TIP)]
    left = depth[_map_xy(hopper_face, affine, 256, 32, 234)]
    right = depth[_map_xy(hopper_face, affine, 256, 32, 454)]
    assert nose > 0.85
    assert nose > left + 0.3 and nose > right + 0.3
    # The nearest pixel is near the nose tip.
    r, c = np.unravel_index(np.argmax(depth), depth.shape)
    nr, nc = _map_xy(hopper_face, affine, 256, 32, F.NOSE_TIP)
    assert abs(r - nr) <= 2 and abs(c - nc) <= 2
    # floor=0 gives a plain min-max label
    d0, m0 = F.depth_label(hopper_face, affine, 256, 32, floor=0.0)
    np.testing.assert_array_equal(m0, mask)
    assert 0.0 <= d0[mask > 0].min() < 0.35
    # At a finer grid the label reaches the floor and 1 (the mesh's z range).
    d256, _ = F.depth_label(hopper_face, affine, 256, 256)
    assert d256.max() > 0.99 and d256[d256 > 0].min() < F.DEPTH_FLOOR + 0.1


def test_depth_label_has_no_cracks_at_high_resolution(grace_hopper_bgr, hopper_face):
    import cv2

    _, affine = F.crop_face(grace_hopper_bgr, hopper_face, 256)
    _, mask = F.depth_label(hopper_face, affine, 256, 256)
    filled = mask.astype(np.uint8).copy()
    ff = np.zeros((258, 258), np.uint8)
    cv2.floodFill(filled, ff, (0, 0), 1)
    # Flood-filling the background from a corner reaches every non-face pixel: no holes inside the face.
    assert filled.min() == 1


def test_mirrored_image_gives_mirrored_label(grace_hopper_bgr, hopper_face):
    mirrored = np.ascontiguousarray(grace_hopper_bgr[:, ::-1])
    with F.FaceMeshTracker(static_image_mode=True) as tracker:
        (face_m,) = tracker.process(mirrored)
    _, a = F.crop_face(grace_hopper_bgr, hopper_face, 256)
    _, am = F.crop_face(mirrored, face_m, 256)
    d, m = F.depth_label(hopper_face, a, 256, 32)
    dm, mm = F.depth_label(face_m, am, 256, 32)
    dm, mm = dm[:, ::-1], mm[:, ::-1]
    assert (m != mm).mean() < 0.05
    both = (m > 0) & (mm > 0)
    assert np.abs(d - dm)[both].mean() < 0.05
    assert np.corrcoef(d[both], dm[both])[0, 1] > 0.95
    # Mirroring the observation itself gives the exactly mirrored label.
    _, af = F.crop_face(mirrored, hopper_face.flipped(grace_hopper_bgr.shape[1]), 256)
    df, mf = F.depth_label(hopper_face.flipped(grace_hopper_bgr.shape[1]), af, 256, 32)
    assert (mf[:, ::-1] != m).mean() < 0.01
    assert np.abs(df[:, ::-1] - d).mean() < 0.01


def test_depth_label_is_deterministic(grace_hopper_bgr, hopper_face):
    _, affine = F.crop_face(grace_hopper_bgr, hopper_face, 256)
    first = F.depth_label(hopper_face, affine, 256, 32)
    again = F.depth_label(hopper_face, affine, 256, 32)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


def test_empty_label_for_a_face_outside_the_crop(hopper_face):
    affine = F.crop_affine(-1000.0, -1000.0, 100.0, 64)
    depth, mask = F.depth_label(hopper_face, affine, 64, 16)
    assert depth.sum() == 0 and mask.sum() == 0


def test_video_mode_tracker_on_a_sequence(grace_hopper_bgr):
    with F.FaceMeshTracker(max_faces=1) as tracker:
        for dx in range(0, 20, 5):
            frame = np.roll(grace_hopper_bgr, dx, axis=1)
            faces = tracker.process(frame)
            assert len(faces) == 1
    with pytest.raises(RuntimeError):
        tracker.process(grace_hopper_bgr)
