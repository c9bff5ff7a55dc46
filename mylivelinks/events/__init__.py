"""Real-time events: Redis Streams per room and per user, served as Server-Sent Events."""
