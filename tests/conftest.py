"""Settings every test process shares."""

import os

# The execute agent holds each attempt to its request's deadline. Offline, moto's control plane
# alone can take seconds on a loaded machine, which would turn every test that runs a request
# with the default 3 s SLA into a test of the machine's load: the offline runtimes started by
# tests allow this much past the deadline. The deadline's own tests allow none
# (tests/reliability/faults.no_deadline_grace); `mecroute serve` and AWS allow none.
os.environ.setdefault("DEADLINE_GRACE_MS", "10000")
