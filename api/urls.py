"""The API's routes, under /api/ (SPEC section 5)."""

from django.urls import path

from . import views
from .health import HealthDetailsView, HealthView

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/token/", views.TokenView.as_view(), name="auth-token"),
    path("sources/", views.SourceListCreateView.as_view(), name="source-list"),
    path("sources/<int:pk>/", views.SourceDetailView.as_view(), name="source-detail"),
    path("sources/<int:pk>/retry/", views.SourceRetryView.as_view(), name="source-retry"),
    path("notes/", views.NoteListView.as_view(), name="note-list"),
    path("notes/<int:pk>/", views.NoteDetailView.as_view(), name="note-detail"),
    path("notes/<int:pk>/flashcards.csv", views.NoteFlashcardsCSVView.as_view(), name="note-flashcards-csv"),
    path(
        "notes/<int:pk>/flashcards.apkg", views.NoteFlashcardsAnkiView.as_view(), name="note-flashcards-apkg"
    ),
    path("health/", HealthView.as_view(), name="health"),
    path("health/details/", HealthDetailsView.as_view(), name="health-details"),
]
