"""Segments: clustering finds planted groups, and what describes a segment is what it has more of."""

import numpy as np

from app.segments import distinctive, fit


def test_distinctive_ranks_what_a_group_has_more_of_not_what_is_popular():
    overall = np.array([1000.0, 100.0, 100.0])
    group = np.array([300.0, 60.0, 5.0])  # the popular thing is common here too, but less than overall
    assert distinctive(group, overall).tolist() == [1]
    assert distinctive(np.zeros(3), overall).tolist() == []


def test_planted_groups_become_segments_labelled_by_their_categories():
    rng = np.random.default_rng(0)
    n_users, per_group = 120, 40
    taste = np.vstack([rng.normal(loc, 0.3, size=(per_group, 8)) for loc in (np.eye(8)[0], np.eye(8)[1],
                                                                              np.eye(8)[2])]) * 3
    categories = ["tea"] * 10 + ["garden"] * 10 + ["games"] * 10
    users, items = [], []
    for u in range(n_users):
        group = u // per_group
        for _ in range(15):
            users.append(u)
            items.append(group * 10 + int(rng.integers(0, 10)) if rng.random() < 0.8 else int(rng.integers(0, 30)))
    words = [f"{c} item number {n}" for n, c in enumerate(categories)]
    seg = fit(taste, None, None, np.array(users), np.array(items), [f"i{n}" for n in range(30)], categories, words,
              n_segments=3)
    assert len(seg.info) == 3 and sum(s["size"] for s in seg.info) == n_users
    for group, name in enumerate(("tea", "garden", "games")):
        found = np.bincount(seg.of_user[group * per_group:(group + 1) * per_group], minlength=3)
        s = seg.info[int(found.argmax())]
        assert found.max() == per_group and s["top_categories"][0] == name and name in s["terms"], s
        assert all(int(i[1:]) // 10 == group for i in s["top_items"][:3]), s
    assert seg.of(0)["segment_id"] == int(seg.of_user[0]) and seg.of(None) is None and seg.of(10_000) is None
    # Fewer users than 20 a segment: fewer segments (one, here), never an error.
    small = fit(taste[:10], None, None, np.array([0, 1]), np.array([0, 1]), [f"i{n}" for n in range(30)], None, None, 8)
    assert len(small.info) == 1 and small.info[0]["label"] == "segment 0"
