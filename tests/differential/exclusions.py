"""Generator productions left out of the `make test` slice because they reach a class of wrong
answer that is still open (issue 16, section 2/3; fixed in parallel by fix16). Each entry names
the class it hides; README.md lists the same. Remove an entry once its fix is merged: the slice
then runs the production again and fails if the class comes back.
"""

OPEN_CLASS_EXCLUSIONS = {
}
