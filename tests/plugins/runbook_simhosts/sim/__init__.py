"""The ``hostinfo`` part: which host am I, what is my role, how often was I asked."""
