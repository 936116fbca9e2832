"""The local UI students and teachers see, served on loopback and shown in a pywebview window."""
