"""The ``csdesk`` command and the batch runners behind it.

This subpackage needs the ``cli`` extra (click and rich): ``pip install 'csdesk[cli]'``. The rest of
csdesk imports without it.
"""
