"""The ids of users created together (an inbound batch): Graph ids are GUIDs, so they must parse as
RFC 9562 UUIDs, version 7, and ascend so a batch's rows land together in the id index."""
from __future__ import annotations

import time
import uuid

from graphsync.services.directory import ordered_ids


def test_a_batch_of_ids_is_distinct_ascending_version_7_uuids_stamped_with_the_time():
    before = time.time_ns() // 1_000_000
    ids = ordered_ids(5000)
    after = time.time_ns() // 1_000_000
    parsed = [uuid.UUID(i) for i in ids]
    assert [str(u) for u in parsed] == ids  # canonical lower-case text
    assert {u.version for u in parsed} == {7} and {u.variant for u in parsed} == {uuid.RFC_4122}
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    assert all(before <= u.int >> 80 <= after for u in parsed)
    # the 74 random bits really vary: every hex digit position after the stamp takes many values
    random_digits = [i.replace("-", "")[13:] for i in ids]
    assert all(len({d[p] for d in random_digits}) >= 4 for p in range(len(random_digits[0])))
    assert ordered_ids(0) == []
