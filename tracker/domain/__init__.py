"""The pure core: Thai calendar, working days, due rules, status, reminder policy, digest content.

Nothing here does I/O or reads the clock: every function takes the instant it reasons about.
"""
