"""Virtual time shared by the explorer and the fake clock: one clock idea, several drivers."""
