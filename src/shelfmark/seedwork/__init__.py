"""Building blocks with no business words: aggregates, events, money, clock, unit of work."""
