"""Signal-generating strategies (trading §6): bonding + barbell and weather, pure and clock-free."""
