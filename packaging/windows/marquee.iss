; Inno Setup 6 script: a Windows setup program for the one-folder bundle in dist\Marquee.
; UNTESTED on this project's Linux machines; .github/workflows/installers.yml builds it on
; windows-latest, installs it silently, runs the installed self-test and uninstalls it.
;
;   python dev.py build --self-test
;   iscc /DAppVersion=0.1.0 packaging\windows\marquee.iss   ->  dist\Marquee-0.1.0-windows-amd64-setup.exe
;
; Installs per user by default (no admin prompt; %LOCALAPPDATA%\Programs\Marquee), or for
; everyone when the user picks it. The uninstaller removes the program and its registry
; entries; the user's settings, runs, models and caches (%LOCALAPPDATA%\Marquee) stay.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#define SourceDir "..\..\dist\Marquee"
#define AppExe "Marquee.exe"
#define ModelProgId "Marquee.Model"

[Setup]
; The AppId identifies the installation for upgrades and the uninstaller: never change it.
AppId={{ED276177-5E2B-4B10-BF50-2824B1B701D2}
AppName=Marquee
AppVersion={#AppVersion}
AppPublisher=Marquee
AppComments=Multi-label image classification: movie genres from posters
DefaultDirName={autopf}\Marquee
DefaultGroupName=Marquee
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=commandline dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=Marquee-{#AppVersion}-windows-amd64-setup
SetupIconFile=..\..\resources\marquee.ico
UninstallDisplayIcon={app}\{#AppExe}
; PyPI's Windows torch is CPU-only, so the bundle stays near 1 GB; a CUDA build over ~2 GB
; needs DiskSpanning=yes (setup.exe plus .bin files).
Compression=lzma2/max
SolidCompression=yes
LZMAUseSeparateProcess=yes
WizardStyle=modern
ChangesAssociations=yes
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Marquee"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\Marquee"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; Model files: "Open with Marquee" on .safetensors without taking the extension from other
; applications (OpenWithProgids), with Marquee's own file type, icon and open command.
Root: HKA; Subkey: "Software\Classes\.safetensors\OpenWithProgids"; ValueType: string; ValueName: "{#ModelProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\{#ModelProgId}"; ValueType: string; ValueName: ""; ValueData: "Marquee model"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ModelProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\{#ModelProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
; Posters: Marquee is listed under "Open with" for its image types (a running Marquee gets
; them through its local socket, see gui/single_instance.py).
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "Marquee"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".safetensors"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".jpg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".jpeg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".png"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".webp"; ValueData: ""

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,Marquee}"; Flags: nowait postinstall skipifsilent
