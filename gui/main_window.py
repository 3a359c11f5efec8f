"""The main window: navigation, the four pages, menus and shortcuts, clean shutdown."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core import __version__
from core.base.paths import log_dir
from gui import gc_guard
from gui.current_model import CurrentModel
from gui.data.page import DataPage
from gui.errors import show_error
from gui.settings import Preferences
from gui.theme import app_icon, nav_icon, set_muted
from gui.widgets import background_imports, first_paint
from gui.workers import FunctionWorker, TaskState, ThumbnailWorker

if TYPE_CHECKING:
    from core.training.loop import TrainResult
    from gui.predict.page import PredictPage
    from gui.runs.page import RunsPage
    from gui.train.page import TrainPage

PAGES = (("data", "Data"), ("train", "Train"), ("predict", "Predict"), ("runs", "Runs"))
PREDICT_PAGE = 2
MODEL_SUFFIX = ".safetensors"
LATER_MODULES = ("numpy", "gui.train.page", "gui.predict.page", "gui.runs.page")  # in a thread
Shortcut = str | QKeySequence | QKeySequence.StandardKey | None


class MainWindow(QMainWindow):
    def __init__(self, prefs: Preferences | None = None, restore_data: bool = True) -> None:
        super().__init__()
        gc_guard.install(QApplication.instance())  # before any worker thread starts
        self.prefs = prefs or Preferences()
        self._restore_data = restore_data
        self._shown = False
        self.confirm_close = self._ask_stop_training  # tests replace this
        self.setWindowTitle("Marquee")
        self.setWindowIcon(app_icon())
        self.setMinimumSize(QSize(1080, 700))
        self.thumbnails = ThumbnailWorker(size=160, parent=self)
        self.data_page = DataPage(self.prefs, self.thumbnails)
        self._later: tuple[TrainPage, PredictPage, RunsPage] | None = None  # after first paint
        self._build()
        self._build_menus()
        self._connect()
        self._restore_geometry()
        self.nav.installEventFilter(first_paint.FirstPaintWatcher(self, self._after_first_paint))

    # Properties typed as the page they return (built on first use, after the first paint).
    train_page: TrainPage = property(lambda self: self._later_pages()[0])  # type: ignore[assignment]
    predict_page: PredictPage = property(lambda self: self._later_pages()[1])  # type: ignore[assignment]
    runs_page: RunsPage = property(lambda self: self._later_pages()[2])  # type: ignore[assignment]
    all_pages = property(lambda self: (self.data_page, *self._later_pages()))

    def _later_pages(self) -> tuple[TrainPage, PredictPage, RunsPage]:
        """The later pages: their imports (numpy, plots) and widgets wait for the first paint."""
        if self._later is None:
            from gui.predict.page import PredictPage
            from gui.runs.page import RunsPage
            from gui.train.page import TrainPage

            predict = PredictPage(self.prefs, self.thumbnails)
            self._later = (TrainPage(self.prefs), predict, RunsPage(self.prefs))
            for page in self._later:
                self.pages.addWidget(page)
            self._connect_later_pages()
        return self._later

    def _build(self) -> None:
        self.pages = QStackedWidget()
        self.pages.addWidget(self.data_page)  # the others: _later_pages
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._build_nav())
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.statusBar().showMessage("Ready.")

    def _build_nav(self) -> QFrame:
        panel = QFrame()
        panel.setObjectName("navPanel")
        panel.setFixedWidth(190)
        box = QVBoxLayout(panel)
        box.setContentsMargins(14, 18, 14, 14)
        box.setSpacing(14)
        brand = QLabel("Marquee")
        brand.setObjectName("appName")
        tagline = QLabel("Movie genres from posters")
        set_muted(tagline)
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setIconSize(QSize(22, 22))
        text = self.palette().color(QPalette.ColorRole.WindowText)
        tips = {
            "data": "Choose and inspect the images (Ctrl+1)",
            "train": "Train a model and watch it learn (Ctrl+2)",
            "predict": "Predict genres for new posters (Ctrl+3)",
            "runs": "Every training: compare, reopen, continue, prune (Ctrl+4)",
        }
        for key, title in PAGES:
            item = QListWidgetItem(nav_icon(key, text), title)
            item.setToolTip(tips[key])
            item.setSizeHint(QSize(150, 42))
            self.nav.addItem(item)
        self.nav.currentRowChanged.connect(self.pages.setCurrentIndex)
        version = QLabel(f"version {__version__}")
        set_muted(version)
        box.addWidget(brand)
        box.addWidget(tagline)
        box.addWidget(self.nav, 1)
        box.addWidget(version)
        return panel

    def _action(self, menu, text: str, shortcut: Shortcut, slot, tip: str) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self._build_file_menu(bar.addMenu("&File"))
        view = bar.addMenu("&View")
        for index, (_key, title) in enumerate(PAGES):
            self._action(
                view,
                title,
                f"Ctrl+{index + 1}",
                lambda _=False, i=index: self.show_page(i),
                f"Show the {title} page",
            )
        train = bar.addMenu("&Training")
        self._action(train, "&Start", "Ctrl+Return", self._on_start_triggered, "Start training")
        self._action(
            train, "S&top", "Esc", self._on_stop_triggered, "Stop training, or cancel a download"
        )
        help_menu = bar.addMenu("&Help")
        self._action(
            help_menu,
            "Open &log folder",
            None,
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_dir()))),
            "Show the folder with Marquee's log file",
        )
        self._action(help_menu, "&About Marquee", None, self._on_about_triggered, "About Marquee")

    def _build_file_menu(self, file_menu: QMenu) -> None:
        self._action(
            file_menu,
            "&Open…",
            QKeySequence.StandardKey.Open,
            self._on_open_triggered,
            "Open images on the Predict page, or a data folder on the Data page",
        )
        self._action(
            file_menu,
            "Open &CSV…",
            None,
            lambda: self.data_page.open_source("csv"),
            "Load a data set from a CSV file",
        )
        self._action(
            file_menu,
            "Open &model…",
            "Ctrl+Shift+O",
            lambda: self.predict_page.open_model_dialog(),
            "Load a trained .safetensors model for prediction",
        )
        self.save_action = self._action(
            file_menu,
            "&Save model…",
            QKeySequence.StandardKey.Save,
            lambda: self.train_page.results.save_dialog(),
            "Save the last trained model",
        )
        self.export_action = self._action(
            file_menu,
            "&Export predictions…",
            "Ctrl+E",
            lambda: self.predict_page.export_dialog(),
            "Export the Predict page's results as CSV",
        )
        file_menu.addSeparator()
        self._action(
            file_menu,
            "Clear image &cache",
            None,
            self.clear_image_cache,
            "Delete the decoded images kept to start training faster (they are decoded again)",
        )
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close, "Quit Marquee")

    def _connect(self) -> None:
        self.data_page.status_message.connect(self.show_status)
        self.data_page.dataset_loaded.connect(lambda data: self.train_page.set_dataset(data))
        # Warm torch (one-time ~1-3 s GIL-heavy import) while the user is looking at the data.
        self.data_page.dataset_loaded.connect(
            lambda _d: QTimer.singleShot(1500, self, self.train_page.detect_device)
        )
        self.data_page.health.predictor_provider = lambda: self.predict_page.predictor
        self._update_actions()
        self.pages.currentChanged.connect(self._on_pages_current_changed)

    def _connect_later_pages(self) -> None:
        for page in self._later or ():
            page.status_message.connect(self.show_status)
        self.current_model = CurrentModel(self.all_pages, self.show_page, self)
        self.train_page.actions_changed.connect(self._update_actions)
        self.predict_page.actions_changed.connect(self._update_actions)
        self.train_page.open_in_predict.connect(self._on_train_open_in_predict)
        health = self.data_page.health
        self.predict_page.label_more_requested.connect(
            lambda: health.label_more(self.predict_page.predictor, parent=self.predict_page)
        )
        self._update_actions()

    # ------------------------------------------------------------------ behaviour
    def _update_actions(self) -> None:
        """Menu actions are enabled only when there is something for them to act on."""
        self.save_action.setEnabled(self._later is not None and self.train_page.can_save())
        self.export_action.setEnabled(self._later is not None and self.predict_page.can_export())

    def show_page(self, index: int) -> None:
        if index > 0:
            self._later_pages()  # built on first use: Train, Predict, Runs
        self.nav.setCurrentRow(index)

    def show_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 10_000)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            if self.nav.currentRow() < 0:
                self.nav.setCurrentRow(0)

    def _after_first_paint(self) -> None:
        """What start-up defers until the window is on screen: the later pages, plots, data."""
        background_imports.BackgroundImports(LATER_MODULES, self).when_loaded(self._build_later)

    def _build_later(self) -> None:
        self.train_page.plots.build()  # once the plots library is loaded (in a thread too)
        if first_paint.probing():
            background_imports.plots_library().when_loaded(first_paint.report_ready_and_quit)
            return
        self.train_page.restore_last_run(self.prefs.value("predict/model", "", str))
        if self._restore_data:
            self.data_page.restore_last_source()

    def _on_pages_current_changed(self, index: int) -> None:
        # Deferred: both import torch in a worker, which must not compete with the first paint.
        page = self.pages.widget(index)
        QTimer.singleShot(400, self, lambda: self._prepare_page(page))

    def _prepare_page(self, page: QWidget | None) -> None:
        if page is self.runs_page:
            self.runs_page.refresh()
        elif page is self.train_page:
            self.train_page.detect_device()
        elif page is self.predict_page and self.predict_page.predictor is None:
            last = self.prefs.value("predict/model", "", str)
            if last and Path(last).is_file() and not self.predict_page.tasks.busy():
                self.predict_page.load_model(Path(last))

    def open_paths(self, paths: list[Path]) -> None:
        """Files opened with Marquee (command line, file manager, a later launch): a model
        file opens on the Predict page, anything else is added to it. None: just come forward."""
        self._bring_to_front()
        if not paths:
            return
        models = [p for p in paths if p.suffix.lower() == MODEL_SUFFIX]
        images = [p for p in paths if p.suffix.lower() != MODEL_SUFFIX]
        self.show_page(PREDICT_PAGE)
        if models:
            self.predict_page.load_model(models[-1])  # one model at a time: the last one wins
        if images:
            self.predict_page.add_inputs(images)

    def _bring_to_front(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()

    def _on_open_triggered(self) -> None:
        if self.pages.currentWidget() is self.predict_page:
            self.predict_page.open_images_dialog()
        else:
            self.show_page(0)
            self.data_page.open_source("folder")

    def _on_start_triggered(self) -> None:
        self.show_page(1)
        self.train_page.start_training()

    def _on_stop_triggered(self) -> None:
        self.train_page.stop_training()
        self.data_page.cancel()

    def _on_train_open_in_predict(self, model_file: Path | None, result: TrainResult | None):
        saved = model_file is not None and model_file.is_file()
        if not saved and result is None:  # a saved run whose file went away since it was drawn
            self.show_status(f"The model file {model_file} is gone; pick a run on the Runs page.")
            return
        self.show_page(2)
        fresh = None if saved else result  # a saved file wins over the in-memory model
        self.predict_page.load_model(model_file if saved else None, result=fresh)

    def clear_image_cache(self) -> FunctionWorker:
        """Empty the on-disk image cache in a worker; the status bar says how much it freed."""

        def task(_state: TaskState) -> int:
            from core.data.cache import clear_cache

            return clear_cache()

        worker = FunctionWorker(task, name="clear-cache")
        worker.succeeded.connect(
            lambda freed: self.show_status(f"Image cache cleared ({freed / 1e6:.0f} MB freed).")
        )
        worker.failed.connect(lambda m, d: show_error(self, f"Could not clear the cache: {m}", d))
        self.show_status("Clearing the image cache…")
        return self.data_page.workers.start(worker)

    def _on_about_triggered(self) -> None:
        QMessageBox.about(
            self,
            "About Marquee",
            f"<b>Marquee {__version__}</b><p>Multi-label image classification on your desktop: "
            "train a genre classifier on movie posters, then drop posters to predict.</p>"
            f"<p>Log folder: {log_dir()}</p>",
        )

    # ------------------------------------------------------------------ shutdown
    def _ask_stop_training(self) -> bool:
        answer = QMessageBox.question(
            self,
            "Training is running",
            "Stop training and quit? The best model so far is saved to the runs folder.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._later is not None and self.train_page.is_training():
            if not self.confirm_close():
                event.ignore()
                return
            self.train_page.stop_training()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Persist preferences and ask every worker to stop without waiting (also for tests);
        running ones are kept until they end (gui.thread_keeper; gui.app waits for them)."""
        self.prefs.set_value("window/geometry", self.saveGeometry())
        self.prefs.set_value("window/page", max(0, self.nav.currentRow()))
        self.prefs.sync()
        self.data_page.health.flush()  # a decision made a moment ago
        for page in self.all_pages if self._later else (self.data_page,):
            page.workers.release()
        if self._later is not None:
            self.runs_page.empty_trash()  # Delete's undo lasts until the app closes
        self.thumbnails.stop()

    def _restore_geometry(self) -> None:
        geometry = self.prefs.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):  # none, or unreadable
            self.resize(1360, 860)
        self.show_page(self.prefs.value("window/page", 0, int))
