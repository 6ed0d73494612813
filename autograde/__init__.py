"""nbgrader wiring of the course: regenerate exercises and grade submissions."""
