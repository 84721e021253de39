from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from pipeline.providers.offline_images import generated_image

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("images/generated/<str:token>.svg", generated_image, name="generated-image"),
]

# JSON, not HTML, for URLs nothing matches and for unexpected errors.
handler404 = "api.errors.not_found_view"
handler500 = "api.errors.server_error_view"
