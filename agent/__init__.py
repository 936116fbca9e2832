"""LessonGate endpoint agent."""
