"""Natural-language understanding: the NluEngine seam, its result types, training data and the embedded engine."""
