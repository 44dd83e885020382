"""Table reads cached for a few seconds in a warm Lambda."""

from mecroute.adapters.recent import Recent


def test_a_read_within_the_ttl_is_served_from_memory_and_refreshed_after():
    reads: list[int] = []
    now = [100.0]

    def read() -> list[int]:
        reads.append(1)
        return [len(reads)]

    recent = Recent(read, ttl_s=5.0, clock=lambda: now[0])

    assert recent() == [1]
    now[0] += 4.9
    assert recent() == [1]
    now[0] += 0.2
    assert recent() == [2]
    assert len(reads) == 2


def test_callers_cannot_change_the_cached_list():
    recent = Recent(lambda: [1, 2], ttl_s=60.0)
    recent().append(3)
    assert recent() == [1, 2]
