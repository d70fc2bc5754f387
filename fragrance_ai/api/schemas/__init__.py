"""Request and response bodies: the design side (briefs, jobs, formulas, ingredients) and
training (variations, feedback, runs, policies)."""
