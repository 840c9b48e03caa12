"""Survival and regression models answering the mandate's questions; read analysis tables only."""
