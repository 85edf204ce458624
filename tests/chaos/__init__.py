"""The chaos suite: customers and agents at a steady rate against the five services as processes
on a Kafka broker and FerretDB of the run's own, while services are killed (``kill -9``) and
restarted, a second replica is killed and the broker restarts; then a checker reads Kafka and
MongoDB and asserts that nothing accepted was lost or doubled.

``python -m tests.chaos`` (``make chaos``) runs the long version; ``test_chaos.py`` a short one
inside ``make test``. ``run.py`` ties the parts together: ``stack.py`` (the processes),
``load.py`` (customers and agents), ``faults.py`` (the fault driver), ``check.py`` (the
invariants).
"""
