"""MiniCRM dialect: the Call log API (POST /Api/CallLog) and its recording links."""
