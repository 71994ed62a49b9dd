"""Push notifications to members who are offline.

- `devices`: the device registry (table `devices`) and the checks on what clients register.
- `member_state`: per member of a room: mute (`mutedUntil`) and what was pushed (`pushedSeq`).
- `recipients`: who gets a push for a stored message (pure rules).
- `notifier`: the Lambda-shaped handler, a second consumer of the chat topic.
- `fcm`, `apns`, `webpush`: the senders, one per push service; `sending` what they share.
- `credentials`: the senders' keys, from a file locally or Secrets Manager in AWS.
"""
