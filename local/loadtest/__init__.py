"""`invoke loadtest`: simulated chat users against the edges; see docs/loadtest.md.

Entry points: `local.loadtest.run.main(argv) -> exit status` and
`local.loadtest.run.run(Options, settings) -> report dict`.
"""
