; Inno Setup script of the StockPilot till for Windows (Inno Setup 6).
;
; Build on Windows, from the repository root, after `bash scripts/bundle.sh` (Git Bash) or
;   .venv\Scripts\python -m PyInstaller --noconfirm installers\stockpilot-till.spec
; has produced dist\stockpilot-till\:
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" /DAppVersion=0.1.0 installers\windows\stockpilot-till.iss
; -> dist\stockpilot-till-0.1.0-setup.exe
;
; The till keeps its local store in %APPDATA%\StockPilot\Till (Qt's AppDataLocation). That
; folder is never part of [Files], so uninstalling leaves the store, its backups and the till's
; settings in place; reinstalling picks them up again.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "StockPilot Till"
#define AppExe "stockpilot-till.exe"
#define ConsoleExe "stockpilot-till-console.exe"
#define BundleDir "..\..\dist\stockpilot-till"

[Setup]
; A fixed AppId lets upgrades replace the previous version in place. Never change it.
AppId={{6B1E3F0C-5A7D-4C2B-9E51-2F8D7C4A9B10}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=StockPilot
DefaultDirName={autopf}\StockPilot Till
DefaultGroupName=StockPilot
DisableProgramGroupPage=yes
OutputDir=..\..\dist
OutputBaseFilename=stockpilot-till-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Per-machine by default; the dialog lets a shop without admin rights install for one user.
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog
UninstallDisplayIcon={app}\{#AppExe}
; The till must be closed to be upgraded or removed; the store itself is not touched.
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole PyInstaller one-folder bundle: the exe, _internal\ with Python, Qt and its plugins.
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"
; The console twin of the exe prints; /k keeps the window open to read the report.
Name: "{group}\StockPilot Till self-check"; Filename: "{cmd}"; Parameters: "/k ""{app}\{#ConsoleExe}"" --self-check"; WorkingDir: "{app}"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the program folder gathers at run time (Python caches); never {userappdata}.
Type: filesandordirs; Name: "{app}\_internal\__pycache__"

[Code]
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if (CurUninstallStep = usPostUninstall) and not UninstallSilent then
    MsgBox('StockPilot Till was removed. Its sales data is kept in ' +
      ExpandConstant('{userappdata}\StockPilot\Till') +
      '; delete that folder yourself only after its sales have synced or been backed up.',
      mbInformation, MB_OK);
end;
