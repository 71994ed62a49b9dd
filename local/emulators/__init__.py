"""Local stand-ins for the managed services tidings runs on: Lambda's event source mapping
(esm, with its event shape, lanes and dead letters) and context, API Gateway's HTTP API
(gateway), and the push services FCM, APNs and Web Push (push_gateway, push_log).
"""
