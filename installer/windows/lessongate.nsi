; LessonGate agent installer for Windows (NSIS 3). Wraps the Windows PyInstaller build
; (dist\lessongate-agent\ from installer\lessongate-agent.spec, built on a Windows runner).
;
;   makensis /DDIST=..\..\dist /DVERSION=0.1.0 /DOUTFILE=lessongate-agent-setup.exe lessongate.nsi
;
; Silent install for GPO, Intune or SCCM (run as administrator / SYSTEM):
;   lessongate-agent-setup.exe /S /SERVER=https://lessongate.district.example /TOKEN=abc /ROOM=lab-3a
; A wrong server or token does not fail the install: the device stays closed and the agent
; retries the enrollment (see README.md, "Deploying to a lab"). UNTESTED on Windows: compiled here with makensis.

Unicode true
RequestExecutionLevel admin
SetCompressor /SOLID lzma

!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"

!ifndef DIST
  !define DIST "..\..\dist"
!endif
!ifndef VERSION
  !define VERSION "0.0.0"
!endif
!ifndef OUTFILE
  !define OUTFILE "lessongate-agent-${VERSION}-setup.exe"
!endif

!define SERVICE "LessonGateAgent"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\LessonGate"
; $APPDATA is C:\ProgramData once SetShellVarContext all has run (both .onInit functions).
!define DATA "$APPDATA\LessonGate"
!define CONFIG "$APPDATA\LessonGate\agent.toml"

Name "LessonGate agent ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\LessonGate"
ShowInstDetails show
ShowUninstDetails show

Var Server
Var Token
Var Room

Page directory
Page instfiles
UninstPage uninstConfirm
UninstPage instfiles

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "LessonGate needs 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
  SetShellVarContext all
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/SERVER=" $Server
  ${GetOptions} $R0 "/TOKEN=" $Token
  ${GetOptions} $R0 "/ROOM=" $Room
  ClearErrors
FunctionEnd

Section "LessonGate agent" SecAgent
  SectionIn RO
  ; An upgrade replaces the files of a stopped service; a stopped agent leaves its firewall
  ; rules in place, so the device stays closed meanwhile.
  nsExec::ExecToLog 'sc.exe stop ${SERVICE}'
  Pop $0
  Sleep 2000

  SetOutPath "$INSTDIR\lessongate-agent"
  File /r "${DIST}\lessongate-agent\*.*"

  CreateDirectory "${DATA}"
  CreateDirectory "${DATA}\state"
  ; Only SYSTEM and Administrators may read the state folder (device token, outbox).
  nsExec::ExecToLog 'icacls "${DATA}\state" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F'
  Pop $0
  ${IfNot} ${FileExists} "${CONFIG}"
    FileOpen $1 "${CONFIG}" w
    FileWrite $1 "# LessonGate agent configuration (written by the installer; your edits are kept).$\r$\n"
    ; A TOML literal string (single quotes): backslashes in the path are not escapes.
    FileWrite $1 "state_dir = '${DATA}\state'$\r$\n"
    FileWrite $1 "enforce = true$\r$\n"
    FileClose $1
  ${EndIf}

  ; The service: LocalSystem, automatic start, restarted after every failure.
  nsExec::ExecToLog 'sc.exe query ${SERVICE}'
  Pop $0
  ${If} $0 != 0
    nsExec::ExecToLog 'sc.exe create ${SERVICE} binPath= "\"$INSTDIR\lessongate-agent\lessongate-agent.exe\" --config \"${CONFIG}\" run" start= auto obj= LocalSystem DisplayName= "LessonGate agent"'
    Pop $0
    ${If} $0 != 0
      DetailPrint "sc.exe create failed ($0)"
      SetErrorLevel 3
    ${EndIf}
  ${EndIf}
  nsExec::ExecToLog 'sc.exe description ${SERVICE} "Keeps this device to the district$\'s Acceptable Use Policy."'
  Pop $0
  nsExec::ExecToLog 'sc.exe failure ${SERVICE} reset= 86400 actions= restart/5000/restart/5000/restart/5000'
  Pop $0
  nsExec::ExecToLog 'sc.exe failureflag ${SERVICE} 1'
  Pop $0

  ; Silent enrollment. A failure is logged and kept pending by the agent, never fatal here.
  ${If} $Server != ""
  ${AndIf} $Token != ""
    ${If} $Room != ""
      nsExec::ExecToLog '"$INSTDIR\lessongate-agent\lessongate-agent.exe" --config "${CONFIG}" enroll --server "$Server" --token "$Token" --room "$Room"'
    ${Else}
      nsExec::ExecToLog '"$INSTDIR\lessongate-agent\lessongate-agent.exe" --config "${CONFIG}" enroll --server "$Server" --token "$Token"'
    ${EndIf}
    Pop $0
    ${If} $0 != 0
      DetailPrint "Enrollment with $Server failed ($0): the device stays closed and the agent retries."
    ${EndIf}
  ${Else}
    DetailPrint "No /SERVER= and /TOKEN= given: enroll later with lessongate-agent enroll."
  ${EndIf}

  nsExec::ExecToLog 'sc.exe start ${SERVICE}'
  Pop $0

  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "LessonGate agent"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "LessonGate"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

!macro RemoveBrowserPolicy KEY
  DeleteRegKey HKLM "${KEY}\URLBlocklist"
  DeleteRegKey HKLM "${KEY}\URLAllowlist"
  DeleteRegKey HKLM "${KEY}\ExtensionInstallBlocklist"
  DeleteRegValue HKLM "${KEY}" "IncognitoModeAvailability"
  DeleteRegValue HKLM "${KEY}" "InPrivateModeAvailability"
  DeleteRegValue HKLM "${KEY}" "BrowserGuestModeEnabled"
  DeleteRegValue HKLM "${KEY}" "BrowserAddPersonEnabled"
  DeleteRegValue HKLM "${KEY}" "BrowserAddProfileEnabled"
  DeleteRegValue HKLM "${KEY}" "DeveloperToolsAvailability"
  DeleteRegValue HKLM "${KEY}" "DnsOverHttpsMode"
  DeleteRegValue HKLM "${KEY}" "QuicAllowed"
  DeleteRegKey /ifempty HKLM "${KEY}"
!macroend

Function un.onInit
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Section "Uninstall"
  ; Best effort, bounded by the agent itself: tell the server this device is gone.
  nsExec::ExecToLog '"$INSTDIR\lessongate-agent\lessongate-agent.exe" --config "${CONFIG}" report-uninstalled'
  Pop $0
  nsExec::ExecToLog 'sc.exe stop ${SERVICE}'
  Pop $0
  Sleep 2000
  nsExec::ExecToLog 'sc.exe delete ${SERVICE}'
  Pop $0

  ; Enforcement the agent left: its firewall rules (group "LessonGate") and browser policies.
  nsExec::ExecToLog 'netsh advfirewall firewall delete rule name=all group="LessonGate"'
  Pop $0
  nsExec::ExecToLog 'powershell.exe -NoProfile -NonInteractive -Command "Get-NetFirewallRule -Group LessonGate -ErrorAction SilentlyContinue | Remove-NetFirewallRule"'
  Pop $0
  !insertmacro RemoveBrowserPolicy "Software\Policies\Google\Chrome"
  !insertmacro RemoveBrowserPolicy "Software\Policies\Chromium"
  !insertmacro RemoveBrowserPolicy "Software\Policies\Microsoft\Edge"
  DeleteRegKey HKLM "Software\Policies\Mozilla\Firefox\WebsiteFilter"
  DeleteRegKey /ifempty HKLM "Software\Policies\Mozilla\Firefox"

  RMDir /r "$INSTDIR\lessongate-agent"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  RMDir /r "${DATA}"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
SectionEnd
