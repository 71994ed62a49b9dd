"""The HTTP API (API Gateway HTTP API, payload 2.0): the route table and Lambda entry point
(api: ``functions.http.api.handler``), what every route shares (common) and the routes by
subject (rooms, messages, reads, push).
"""
