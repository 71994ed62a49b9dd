"""The supervised local stack: what runs (components), how it is supervised (stack, process),
the services it installs and sets up (Kafka, dynalite, tables, push keys, the browser) and
its command line (stackctl).
"""
