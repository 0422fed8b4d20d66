#!/bin/sh
exec echo "web would start on port $(sed -n 's/^port = //p' /etc/web/web.conf)"
