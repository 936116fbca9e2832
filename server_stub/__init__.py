"""LessonGate central server."""
