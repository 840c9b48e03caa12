"""Study designs that answer the coordination question without immortal time; they read analysis tables and call the estimators."""
