"""The fault suite: a stack instance of its own, a steady HTTP load, real faults, honest counts.

`python -m appeals_tools.chaos run` (`make chaos`) starts a complete stack under
`.local/chaos/` on ports nobody else uses, posts appeals to intake at a steady rate, injects
one fault per case (kill -9 of a service, the broker killed or frozen, PostgreSQL restarted or
frozen, the relay leader frozen, poison records), and then reads the services' databases and
topics to count what was lost, duplicated and dead-lettered. `--short` is the version inside
`make test`.
"""
