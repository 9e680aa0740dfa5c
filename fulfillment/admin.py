from django.contrib import admin

admin.site.site_header = "Fulfillment platform administration"
admin.site.site_title = "Fulfillment admin"
