"""Long work off the request path: jobs live in the SQL ``jobs`` table (``queue``); workers claim and run them
(``runner``); ``python -m app.worker`` is the separate worker process."""
