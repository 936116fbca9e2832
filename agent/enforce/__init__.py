"""Enforcement backends behind one interface (see `base.Enforcer`)."""
